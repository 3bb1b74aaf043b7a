// 公众号模拟器: everything goes through /simulator/api/*, which talks to /wechat as WeChat does.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const messages = $("messages");
  const userSelect = $("user");
  const activitySelect = $("activity");
  const state = { openid: "", lastPush: 0, busy: false };

  function bubble(text, side, tag) {
    const row = document.createElement("div");
    row.className = "msg " + side;
    const avatar = document.createElement("span");
    avatar.className = "avatar";
    avatar.textContent = side === "user" ? "我" : "拥";
    const body = document.createElement("div");
    body.className = "bubble";
    body.textContent = text;
    if (tag) {
      const mark = document.createElement("span");
      mark.className = "tag";
      mark.textContent = tag;
      body.prepend(mark);
    }
    row.append(avatar, body);
    messages.append(row);
    messages.scrollTop = messages.scrollHeight;
  }

  function note(text) {
    const p = document.createElement("p");
    p.className = "system";
    p.textContent = text;
    messages.append(p);
    messages.scrollTop = messages.scrollHeight;
  }

  function status(text) { $("status").textContent = text; }

  async function api(path, body) {
    const options = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    };
    const response = await fetch("/simulator/api/" + path, options);
    const data = await response.json().catch(() => ({ error: "服务器没有正常回复" }));
    if (!response.ok) throw new Error(data.error || "请求失败");
    return data;
  }

  async function send(message, shown) {
    if (!state.openid && message.type !== "subscribe") { status("请先选择一位用户"); return; }
    if (shown) bubble(shown, "user");
    try {
      const data = await api("send", Object.assign({ openid: state.openid || undefined }, message));
      if (data.openid && data.openid !== state.openid) chooseUser(data.openid, "新关注用户 · " + data.openid, true);
      if (data.reply) bubble(data.reply, "account");
      status("");
    } catch (error) {
      note(error.message);
    }
  }

  function chooseUser(openid, label, keepMessages) {
    if (![...userSelect.options].some((o) => o.value === openid)) {
      userSelect.add(new Option(label, openid), 2);
    }
    userSelect.value = openid;
    state.openid = openid;
    state.lastPush = 0;
    if (!keepMessages) messages.replaceChildren();
    note("当前用户：" + label);
  }

  async function loadUsers() {
    const data = await api("users");
    for (const user of data.users) userSelect.add(new Option(user.label, user.openid));
    for (const activity of data.activities) activitySelect.add(new Option(activity.title, activity.code));
  }

  async function pollPushes() {
    if (!state.openid || state.busy) return;
    state.busy = true;
    const openid = state.openid;
    try {
      const data = await api("pushes?openid=" + encodeURIComponent(openid) + "&after=" + state.lastPush);
      if (openid !== state.openid) return;
      for (const push of data.pushes) {
        bubble(push.text, "account", "推送");
        state.lastPush = Math.max(state.lastPush, push.id);
      }
    } catch (error) {
      status(error.message);
    } finally {
      state.busy = false;
    }
  }

  userSelect.addEventListener("change", () => {
    const value = userSelect.value;
    if (value === "__new__") {
      state.openid = "";
      messages.replaceChildren();
      note("您扫码关注了“双拥助手”");
      send({ type: "subscribe" });
    } else if (value) {
      chooseUser(value, userSelect.selectedOptions[0].textContent, false);
      pollPushes();
    } else {
      state.openid = "";  // no one chosen: a scan is a stranger following through the QR code
    }
  });

  // The custom menu: a top button opens its sub-buttons; a sub-button sends a CLICK event.
  const layer = $("submenu-layer");
  function closeMenus() {
    document.querySelectorAll(".submenu").forEach((ul) => { ul.hidden = true; });
    layer.hidden = true;
  }
  document.querySelectorAll(".menu-button").forEach((button) => {
    button.addEventListener("click", () => {
      const list = document.querySelector(`.submenu[data-submenu="${button.dataset.menu}"]`);
      const wasOpen = !list.hidden;
      closeMenus();
      if (!wasOpen) { list.hidden = false; layer.hidden = false; }
    });
  });
  layer.addEventListener("click", closeMenus);
  document.querySelectorAll(".sub-button").forEach((button) => {
    button.addEventListener("click", () => {
      closeMenus();
      note("点击菜单：" + button.textContent);
      send({ type: "click", key: button.dataset.key });
    });
  });

  // Menu ⇄ keyboard, as in WeChat.
  $("to-keyboard").addEventListener("click", () => {
    closeMenus();
    $("menu-bar").hidden = true;
    $("text-bar").hidden = false;
    $("text").focus();
  });
  $("to-menu").addEventListener("click", () => {
    $("text-bar").hidden = true;
    $("menu-bar").hidden = false;
  });
  $("text-bar").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text").value.trim();
    if (!text) return;
    $("text").value = "";
    send({ type: "text", content: text }, text);
  });

  $("scan").addEventListener("click", () => {
    const code = activitySelect.value;
    if (!code) { status("请先选择要签到的活动"); return; }
    const title = activitySelect.selectedOptions[0].textContent;
    if (state.openid) {
      note("扫描了“" + title + "”的签到二维码");
      send({ type: "scan", key: code });
    } else {
      messages.replaceChildren();
      note("新用户扫描“" + title + "”的签到二维码并关注了公众号");
      send({ type: "subscribe", key: code });
    }
  });

  $("travel").addEventListener("click", async () => {
    const day = $("travel-date").value;
    status("正在跳转到 " + day + " …");
    try {
      const data = await api("time-travel", { date: day });
      status(`已跳转到 ${data.date} 上午9点：新增 ${data.queued} 条待发消息，已送达 ${data.delivered} 条`);
      note("⏱ 时间已跳转到 " + data.date + " 上午9:00");
      pollPushes();
    } catch (error) {
      status(error.message);
    }
  });

  loadUsers().catch((error) => status(error.message));
  setInterval(pollPushes, 2000);
})();
