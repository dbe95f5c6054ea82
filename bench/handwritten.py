"""The hand-written baseline imgkit is compared with (``bench/compare.py``).

What it is
----------
The bulk upload a competent analyst writes in an afternoon with the platforms' pages
open: a ``concurrent.futures.ThreadPoolExecutor``, one ``requests.Session`` per worker
thread (kept-alive connections, as ``requests`` users are told to do), each platform's
request signed as its page says (``handwritten_signing.py``), a token bucket per shop
when the shop's rate is known, and a retry loop.  It covers all five platforms: the vv-tool
token flow (a client-credentials token fetched once per shop, fetched again once on a 401)
and Douyin's asynchronous audit (the detail query is polled until the material passes or
is rejected, or the wait runs out).

Why it is an honest baseline
----------------------------
* Nothing in it comes from imgkit's client code (``imgkit/platforms``, ``engine``,
  ``net``): the signing was written from the protocol pages and checked against their
  test vectors, so it is neither handicapped by imgkit's bugs nor helped by its fixes.
* It is not a strawman: it is parallel, reuses connections, reads each file once per
  attempt, signs in a few microseconds, paces each shop when told the rate and polls the
  audit.  Its CPU per upload is about as low as ``requests`` allows.
* It has exactly the weaknesses such scripts have.  Retries are naive: any exception, any
  5xx, any rate-limit or documented-transient answer is retried a fixed number of times
  after a short fixed sleep, and nobody looks up whether an upload that got no answer was
  stored — which is how real scripts store duplicates.  With no rate given there is no
  bucket at all: the user does not know the limit, so the script sends as fast as its
  threads go and relies on the retries.  There is no journal, no validation beyond what
  the platform refuses, and no per-row deadline.

Example
-------
>>> bucket = TokenBucket(1000.0)
>>> bucket.take() is None
True
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests  # type: ignore[import-untyped, unused-ignore]
from handwritten_signing import (
    Answer,
    fetch_vv_token,
    query_douyin,
    send_doudian,
    send_qianmi_sku,
    send_taobao_miniapp,
    send_taobao_picture,
    send_tmall_item,
)

RETRIES = 3  # attempts after the first
RETRY_SLEEP_S = 0.5
AUDIT_WAIT_S = 60.0
AUDIT_POLL_S = 0.5


@dataclass
class Result:
    """One row's outcome: ``uploaded`` or ``failed``, what came back, how many attempts."""

    status: str
    url: str = ""
    image_id: str = ""
    code: str = ""
    message: str = ""
    attempts: int = 0
    rate_limited: bool = False  # the last refusal was a rate-limit answer


class TokenBucket:
    """At most ``rate`` requests a second, one at a time (a burst of one).

    A burst larger than one would overrun a server that counts a sliding one-second
    window, so the bucket holds a single token.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_at = 0.0
        self.lock = threading.Lock()

    def take(self) -> None:
        """Block until this caller may send."""
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next_at)
            self.next_at = at + self.interval
        if at > now:
            time.sleep(at - now)


class Uploader:
    """Uploads rows (dicts with ``platform, shop, file, target`` and options) to shops.

    Parameters
    ----------
    shops
        Shop name → the shop's fields as in a ``shops.toml`` (``platform``, ``base_url``,
        credentials); a ``rate_per_s`` there gives that shop a token bucket.
    workers
        Threads, each with its own ``requests.Session``.
    """

    def __init__(self, shops: dict[str, dict[str, Any]], workers: int = 16) -> None:
        self.shops = shops
        self.workers = workers
        self.buckets = {
            name: TokenBucket(float(shop["rate_per_s"]))
            for name, shop in shops.items()
            if shop.get("rate_per_s")
        }
        self.local = threading.local()
        self.sessions: list[requests.Session] = []  # closed once the pool is done
        self.tokens: dict[str, str] = {}
        self.token_lock = threading.Lock()

    def session(self) -> requests.Session:
        """This thread's session (created on first use)."""
        session: requests.Session | None = getattr(self.local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # loopback: no proxy from the environment
            self.local.session = session
            self.sessions.append(session)
        return session

    def pace(self, shop: str) -> None:
        """Wait for the shop's bucket, if it has one (no rate given: no waiting)."""
        bucket = self.buckets.get(shop)
        if bucket is not None:
            bucket.take()

    def vv_token(self, name: str, refresh: bool = False) -> str:
        """The shop's bearer token: its fixed one, or one fetched once (again on ``refresh``)."""
        shop = self.shops[name]
        if "client_id" not in shop:
            return str(shop["access_token"])
        with self.token_lock:
            if refresh or name not in self.tokens:
                self.pace(name)
                self.tokens[name] = fetch_vv_token(self.session(), shop)
            return self.tokens[name]

    def send(self, row: dict[str, Any]) -> Answer:
        """One attempt at one row (after the shop's bucket lets it go)."""
        name = str(row["shop"])
        shop, session = self.shops[name], self.session()
        platform = shop["platform"]
        if platform == "taobao_picture":
            token = self.vv_token(name)
            self.pace(name)
            answer = send_taobao_picture(session, shop, row, token)
            if answer.kind == "auth" and "client_id" in shop:
                token = self.vv_token(name, refresh=True)
                self.pace(name)
                answer = send_taobao_picture(session, shop, row, token)
            return answer
        senders: dict[str, Callable[[requests.Session, dict[str, Any], dict[str, Any]], Answer]]
        senders = {
            "taobao_miniapp": send_taobao_miniapp,
            "tmall_item": send_tmall_item,
            "doudian": send_doudian,
            "qianmi_sku": send_qianmi_sku,
        }
        self.pace(name)
        return senders[platform](session, shop, row)

    def wait_audit(self, row: dict[str, Any], material_id: str) -> Answer:
        """Poll Douyin's detail query until the audit passes or fails, or time runs out."""
        name = str(row["shop"])
        deadline = time.monotonic() + AUDIT_WAIT_S
        delay = AUDIT_POLL_S
        while time.monotonic() < deadline:
            time.sleep(delay)
            self.pace(name)
            try:
                answer = query_douyin(self.session(), self.shops[name], material_id)
            except Exception:
                continue  # a failed poll is asked again
            if answer.kind in ("ok", "fatal"):
                return answer
            delay = min(delay * 1.5, 5.0)
        return Answer("fatal", image_id=material_id, code="audit", message="audit not over")

    def upload_row(self, row: dict[str, Any]) -> Result:
        """Send one row, retrying any failure that might pass, ``RETRIES`` times."""
        answer = Answer("fatal")
        for attempt in range(1, RETRIES + 2):
            try:
                answer = self.send(row)
            except Exception as exc:
                # No answer, a 5xx or an unreadable body: try again.  Whether the
                # platform stored it anyway is never asked.
                answer = Answer("transient", message=f"{type(exc).__name__}: {exc}"[:200])
            if answer.kind == "auditing":
                answer = self.wait_audit(row, answer.image_id)
            if answer.kind in ("ok", "fatal", "auth"):
                break
            if attempt <= RETRIES:
                time.sleep(RETRY_SLEEP_S)
        status = "uploaded" if answer.kind == "ok" else "failed"
        return Result(
            status,
            answer.url,
            answer.image_id,
            answer.code,
            answer.message,
            attempt,
            rate_limited=answer.kind == "rate",
        )

    def upload(self, rows: list[dict[str, Any]]) -> list[Result]:
        """Every row through the pool; results in the rows' order."""
        try:
            with ThreadPoolExecutor(self.workers) as pool:
                return list(pool.map(self.upload_row, rows))
        finally:
            for session in self.sessions:
                session.close()


def upload(
    rows: list[dict[str, Any]], shops: dict[str, dict[str, Any]], workers: int = 16
) -> list[Result]:
    """Upload ``rows`` to ``shops`` with ``workers`` threads (see :class:`Uploader`)."""
    return Uploader(shops, workers).upload(rows)
