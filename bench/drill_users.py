"""Simulated WeChat users for the fault drill (bench/drill.py).

Each user follows the account and files a 求助 (提交求助: category, description,
urgency, for whom, name, phone, consent, confirm), every turn a signed, AES-encrypted
WeChat message over HTTP. WeChat's side is played as WeChat plays it: an answer not
back within 5 s (or a broken connection, or a 5xx) is sent again, the same bytes and
the same MsgId, up to 3 more times, to either server (a load balancer in front).
"success" means "no reply now": the user waits for the reply to come later as a
customer-service message (the fake API sees it). A reply of 系统繁忙 is answered
the way a person would: they send the same text again (a new message).

Every HTTP attempt is recorded (start, latency, status, outcome) for the latency
figures; every turn's final outcome is recorded for the checks.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from queue import Empty, Queue

import requests

from handlers import texts
from tests.wechat_peer import WeChatPeer, event_xml, text_xml

WECHAT_TIMEOUT = 5.0  # WeChat drops the connection after 5 s and retries
RECEIPT = re.compile(r"SY\d{4}-\d{6}")


def turns(n: int) -> list[tuple[str, str]]:
    """What user n says at each step of 提交求助, and a fragment the answer must contain."""
    return [
        ("提交求助", "请选择求助类别"),
        ("2", "请简要说明"),
        (f"老人住房漏雨，需要维修（演练第{n}户）", "情况紧急吗"),
        ("1", "为谁求助"),
        ("1", "联系人姓名"),
        ("王大山", "联系电话"),
        (f"138{n:08d}", "同意"),
        ("同意", "请核对"),
        ("1", "已收到您的求助"),
    ]


@dataclass
class Attempt:
    started: float  # time.time()
    seconds: float
    status: int | None  # None: timeout or connection error
    outcome: str  # "reply", "success", "timeout", "error", "http 5xx"...


@dataclass
class Turn:
    said: str
    msg_id: int | None
    answer: str | None = None
    how: str = "none"  # "inline", "late" (customer-service message), "none"
    attempts: list[Attempt] = field(default_factory=list)


@dataclass
class User:
    n: int
    openid: str
    turns: list[Turn] = field(default_factory=list)
    receipts: set[str] = field(default_factory=set)
    derailed: str | None = None  # what went wrong when the conversation could not go on
    finished: bool = False

    @property
    def final(self) -> Turn | None:
        return self.turns[-1] if self.turns else None


class LateReplies:
    """Customer-service messages the fake API delivered, per openid, in order."""

    def __init__(self):
        self._lock = threading.Condition()
        self._by_user: dict[str, list[str]] = {}

    def add(self, openid: str, text: str) -> None:
        with self._lock:
            self._by_user.setdefault(openid, []).append(text)
            self._lock.notify_all()

    def count(self, openid: str) -> int:
        with self._lock:
            return len(self._by_user.get(openid, []))

    def wait_next(self, openid: str, seen: int, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._by_user.get(openid, [])) <= seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(min(left, 0.5))
            return self._by_user[openid][seen]


class Crowd:
    """N users, `concurrency` at a time, alternating between the servers."""

    def __init__(self, urls: list[str], peer: WeChatPeer, late: LateReplies, users: int, concurrency: int,
                 think: float, retries: int = 3, late_wait: float = 90.0):
        self.urls, self.peer, self.late = urls, peer, late
        self.concurrency, self.think, self.retries, self.late_wait = concurrency, think, retries, late_wait
        self.users = [User(n, f"oDrillUser{n:06d}x") for n in range(users)]
        self._todo: Queue[User] = Queue()
        for user in self.users:
            self._todo.put(user)
        self._msg_ids = itertools.count(int(time.time() * 1000) * 1000)
        self._ids_lock = threading.Lock()
        self._local = threading.local()
        self.done = threading.Event()

    def run(self) -> None:
        threads = [threading.Thread(target=self._work, daemon=True) for _ in range(self.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.done.set()

    def attempts(self) -> list[Attempt]:
        return [a for u in self.users for t in u.turns for a in t.attempts]

    # --- one user ------------------------------------------------------------------

    def _work(self) -> None:
        self._local.http = requests.Session()
        while True:
            try:
                user = self._todo.get_nowait()
            except Empty:
                return
            try:
                self._converse(user)
            except Exception as exc:  # a bug in the drill must show, not hang the run
                user.derailed = f"drill error: {type(exc).__name__}: {exc}"

    def _converse(self, user: User) -> None:
        home = user.n % 2
        follow = self._say(user, home, event_xml("subscribe", user.openid), "（关注）", None)
        if follow.answer is None:
            user.derailed = "no answer to the follow"
            return
        for said, expected in turns(user.n):
            time.sleep(self.think)
            turn = self._say_as_a_person(user, home, said)
            if turn.answer is None:
                user.derailed = f"no answer to {said!r}"
                return
            user.receipts.update(RECEIPT.findall(turn.answer))
            if expected not in turn.answer:
                user.derailed = f"unexpected answer to {said!r}: {turn.answer[:60]!r}"
                return
        user.finished = True

    def _say_as_a_person(self, user: User, home: int, said: str) -> Turn:
        """A person who reads 系统繁忙 tries again (a new message) a little later."""
        for _ in range(3):
            with self._ids_lock:
                msg_id = next(self._msg_ids)
            turn = self._say(user, home, text_xml(said, openid=user.openid, msg_id=msg_id), said, msg_id)
            if turn.answer != texts.BUSY:
                return turn
            time.sleep(1.0)
        return turn

    def _say(self, user: User, home: int, xml: str, said: str, msg_id: int | None) -> Turn:
        turn = Turn(said, msg_id)
        user.turns.append(turn)
        late_seen = self.late.count(user.openid)
        query, body = self.peer.envelope(xml)  # one envelope: WeChat resends the same bytes
        for attempt in range(1 + self.retries):
            url = self.urls[(home + attempt) % len(self.urls)]
            record, reply = self._post(url, query, body)
            turn.attempts.append(record)
            if record.outcome == "reply":
                turn.answer, turn.how = reply, "inline"
                return turn
            if record.outcome == "success":
                # WeChat shows nothing and stops retrying; a late reply may follow.
                late = self.late.wait_next(user.openid, late_seen, self.late_wait)
                if late is not None:
                    turn.answer, turn.how = late, "late"
                return turn
            if record.outcome not in ("timeout",):
                time.sleep(1.0)  # a refused or broken connection: WeChat tries again shortly
        return turn

    def describe(self, user: User, since: float) -> str:
        """A user's conversation, attempt by attempt: for the drill's report of what went wrong."""
        lines = [f"user {user.n} ({user.openid}): {user.derailed or 'finished'}"]
        for turn in user.turns:
            tries = ", ".join(f"+{a.started - since:.1f}s {a.outcome} {a.seconds * 1000:.0f}ms" for a in turn.attempts)
            answer = (turn.answer or "").replace("\n", " ")[:40]
            lines.append(f"    {turn.said[:12]!r} msg {turn.msg_id}: {turn.how} [{tries}] {answer!r}")
        return "\n".join(lines)

    def _post(self, url: str, query: dict, body: bytes) -> tuple[Attempt, str | None]:
        started, clock = time.time(), time.monotonic()
        try:
            response = self._local.http.post(url + "/wechat", params=query, data=body, timeout=WECHAT_TIMEOUT,
                                             headers={"Content-Type": "text/xml"})
        except requests.Timeout:
            self._local.http = requests.Session()
            return Attempt(started, time.monotonic() - clock, None, "timeout"), None
        except requests.RequestException:
            self._local.http = requests.Session()
            return Attempt(started, time.monotonic() - clock, None, "error"), None
        seconds = time.monotonic() - clock
        if response.status_code != 200:
            return Attempt(started, seconds, response.status_code, f"http {response.status_code}"), None
        reply = self.peer.reply_text(response.content)
        if reply is None:
            return Attempt(started, seconds, 200, "success"), None
        return Attempt(started, seconds, 200, "reply"), reply
