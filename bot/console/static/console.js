// Progressive enhancement only: every action works without this file.
(function () {
  "use strict";
  document.documentElement.className += " js"; // CSS shows script-only parts (chart canvases)
  // Confirm destructive actions: <button data-confirm="确定…？">
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
  // A form is sent once: a double click (or an impatient second click) does not send it again.
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }
    var form = event.target;
    if (form.getAttribute("data-sending")) { event.preventDefault(); return; }
    if ((form.method || "").toLowerCase() !== "post") { return; }
    form.setAttribute("data-sending", "1");
    saveDraft(form, event.submitter);
    // Let the click go through first, then grey the buttons (a disabled submitter sends no name/value).
    var buttons = form.querySelectorAll("button[type=submit], button:not([type])");
    window.setTimeout(function () {
      buttons.forEach(function (b) { b.disabled = true; });
    }, 0);
    window.setTimeout(function () {  // no answer after 15 s (the clerk pressed Esc, the network hung): usable again
      form.removeAttribute("data-sending");
      buttons.forEach(function (b) { b.disabled = false; });
    }, 15000);
  });
  // The page came back from the browser's cache (the back button): its forms may be sent again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("form[data-sending]").forEach(function (form) {
      form.removeAttribute("data-sending");
      form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
    });
  });
  // What a clerk typed survives a session that timed out while the form was open: the text is kept
  // in this tab (sessionStorage) when a form is sent, and filled back in on the same form after
  // signing in again. Any other page load forgets it; passwords are never kept.
  var DRAFT = "sy-console-draft";
  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }
  function saveDraft(form, submitter) {
    var store = storage();
    if (!store || form.querySelector("input[type=password]")) { return; }
    var fields = {};
    var any = false;
    form.querySelectorAll("textarea[name], input[type=text][name], select[name]").forEach(function (field) {
      if (field.value) { fields[field.name] = field.value; any = true; }
    });
    if (!any) { return; }
    try {
      store.setItem(DRAFT, JSON.stringify({ action: form.action, fields: fields, at: Date.now() }));
    } catch (e) { /* storage full or refused: nothing to keep */ }
  }
  function restoreDraft() {
    var store = storage();
    if (!store) { return; }
    var draft = null;
    try { draft = JSON.parse(store.getItem(DRAFT) || "null"); } catch (e) { draft = null; }
    if (!draft || Date.now() - draft.at > 12 * 3600 * 1000) { store.removeItem(DRAFT); return; }
    var expired = document.querySelector("[data-session-expired]");
    if (expired) {  // the login page after a timeout: keep the draft until the clerk is back
      draft.restore = true;
      store.setItem(DRAFT, JSON.stringify(draft));
      var note = document.createElement("p");
      note.className = "flash flash-info";
      note.textContent = "您刚才填写的内容已暂存在这台电脑的浏览器里，登录后会自动填回，请核对后再提交。";
      expired.parentNode.insertBefore(note, expired.nextSibling);
      return;
    }
    if (document.querySelector("form input[type=password]") && !document.querySelector(".mainnav")) {
      return;  // the login page again (a mistyped password): still waiting
    }
    store.removeItem(DRAFT);
    if (!draft.restore) { return; }
    var form = null;
    document.querySelectorAll("form[method=post]").forEach(function (f) {
      if (f.action === draft.action) { form = f; }
    });
    if (!form) { return; }
    Object.keys(draft.fields).forEach(function (name) {
      var field = form.querySelector('[name="' + name.replace(/"/g, "") + '"]');
      if (field && !field.value && field.type !== "hidden") { field.value = draft.fields[name]; }
    });
    var details = form.closest("details");
    if (details) { details.open = true; }
    var told = document.createElement("p");
    told.className = "flash flash-info";
    told.setAttribute("role", "status");
    told.textContent = "已填回您登录前填写的内容，还没有提交。请核对后再点提交。";
    form.insertBefore(told, form.firstChild);
  }
  restoreDraft();
  // "Select all" for bulk actions: <input type="checkbox" data-check-all="name">
  document.querySelectorAll("[data-check-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      var name = box.getAttribute("data-check-all");
      document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (item) {
        item.checked = box.checked;
      });
    });
  });
  // Charts: <canvas data-chart="id-of-a-json-script">, drawn by Chart.js when the page has it.
  // The vendor script comes after this file (in the page's scripts block), so wait for the
  // document to finish: every parser-inserted script has run by DOMContentLoaded.
  function drawCharts() {
    if (!window.Chart) { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source) { return; }
      var spec = JSON.parse(source.textContent);
      new window.Chart(canvas, {
        type: spec.type || "bar",
        data: { labels: spec.labels, datasets: [{ label: spec.label, data: spec.values, backgroundColor: spec.colors || "#0b4f9c" }] },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          plugins: { legend: { display: spec.type === "doughnut" } },
          scales: spec.type === "doughnut" ? {} : { y: { beginAtZero: true, ticks: { precision: 0 } } }
        }
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawCharts);
  } else {
    drawCharts();
  }
})();
