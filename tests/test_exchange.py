"""The one exchange (``imgkit.engine.exchange.call``) over loopback HTTP to the sandbox.

``upload`` and ``upload_one`` make their requests through the same function: a refused
token is fetched again the same way, a build-time error is a row's outcome, and a
transport error or an unreadable answer means the same whether it hit an upload, an audit
poll or a look-up.  URL sources are downloaded through the run's own transport.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import imgkit
from imgkit import Sandbox
from imgkit.engine.exchange import Link, Token, call
from imgkit.engine.pacing import PacerPool
from imgkit.engine.tokens import RunTokens, TokenCache
from imgkit.errors import Category, ImgkitError, ShopConfigError
from imgkit.intake.shops import Shop, make_shop
from imgkit.net.transport import Sender
from imgkit.platforms import get_adapter
from imgkit.platforms.base import Adapter, Job, Outcome
from imgkit.sandbox.taobao_picture import TOKEN_PATH, TOKEN_TTL_S, UPLOAD_PATH

ROOT = Path(__file__).resolve().parent.parent
MUG = ROOT / "sample_data" / "images" / "mug.jpg"
OAUTH = "tb_picture_oauth"
# Deep enough to exhaust any JSON parser's stack.
HOSTILE = b"[" * 100_000 + b"]" * 100_000

Hook = Callable[[httpx.Request], None]


class Seen(httpx.AsyncBaseTransport):
    """The run's transport: real loopback HTTP, every request path noted (and ``hook``
    called before it is forwarded)."""

    def __init__(self, hook: Hook | None = None, *, body: bytes | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport(retries=0)
        self.hook = hook
        self.body = body  # replaces every answer's body (a hostile platform)
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.hook is not None:
            self.hook(request)
        answer = await self.inner.handle_async_request(request)
        if self.body is None:
            return answer
        await answer.aread()
        await answer.aclose()
        return httpx.Response(200, content=self.body, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class SeenSync(httpx.BaseTransport):
    """:class:`Seen` for ``upload_one``'s synchronous wire."""

    def __init__(self, hook: Hook | None = None) -> None:
        self.inner = httpx.HTTPTransport(retries=0)
        self.hook = hook
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.hook is not None:
            self.hook(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def expire_tokens_at_first_upload(sandbox: Sandbox) -> Hook:
    """Move the sandbox's clock past the tokens' lifetime as the first upload leaves: the
    token imgkit holds (valid by its own clock) is refused as expired."""
    fired: list[bool] = []

    def hook(request: httpx.Request) -> None:
        if request.url.path == UPLOAD_PATH and not fired:
            fired.append(True)
            sandbox.state.set_clock(time.time() + TOKEN_TTL_S + 600)

    return hook


PLATFORMS = {OAUTH: "taobao_picture", "tb_picture_main": "taobao_picture",
             "qianmi_shop": "qianmi_sku"}  # fmt: skip


def one_row(shop: str, file: str, target: str = "0") -> pd.DataFrame:
    row = {"platform": PLATFORMS[shop], "shop": shop, "file": file, "target": target}
    return pd.DataFrame([row])


def upload(frame: pd.DataFrame, sandbox: Sandbox, **options: Any) -> pd.DataFrame:
    options.setdefault("journal", False)
    options.setdefault("progress", False)
    return imgkit.upload(frame, shops=sandbox.shops, **options)


def test_an_expired_token_is_fetched_again_once_in_upload_and_upload_one(
    sandbox: Sandbox,
) -> None:
    TokenCache.clear()
    wire = SeenSync(expire_tokens_at_first_upload(sandbox))
    try:
        one = imgkit.upload_one(OAUTH, MUG, "0", shops=sandbox.shops, client=wire)
    finally:
        wire.close()
    assert one.ok, one
    sandbox.reset()
    sandbox.state.set_clock(None)
    seen = Seen(expire_tokens_at_first_upload(sandbox))
    out = upload(one_row(OAUTH, str(MUG)), sandbox, transport=seen)
    assert out["status"].tolist() == ["uploaded"], out[["status", "code", "message"]]
    # The same exchange in both: the refused upload, one new token, the upload again.
    assert wire.paths == seen.paths == [TOKEN_PATH, UPLOAD_PATH, TOKEN_PATH, UPLOAD_PATH]


def test_a_token_refused_twice_is_not_fetched_a_third_time(sandbox: Sandbox) -> None:
    def expire_always(request: httpx.Request) -> None:
        if request.url.path == UPLOAD_PATH:
            sandbox.state.set_clock(time.time() + 10 * TOKEN_TTL_S * len(seen.paths))

    seen = Seen(expire_always)
    out = upload(one_row(OAUTH, str(MUG)), sandbox, transport=seen)
    assert out.loc[0, "status"] == "failed"
    assert out.loc[0, "category"] == "auth"
    assert seen.paths.count(TOKEN_PATH) == 2


def test_a_build_time_error_is_the_row_outcome_in_upload_and_upload_one(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = get_adapter("taobao_picture")

    def refuse(*args: Any, **kwargs: Any) -> httpx.Request:
        raise ShopConfigError("shop 'tb_picture_main': position must be a number")

    monkeypatch.setattr(type(adapter), "build_request", refuse)
    one = imgkit.upload_one("tb_picture_main", MUG, "0", shops=sandbox.shops)
    assert (one.ok, one.code, one.category) == (False, "bad_shop", Category.INVALID_INPUT)
    assert "position must be a number" in one.message
    out = upload(one_row("tb_picture_main", str(MUG)), sandbox)
    assert out.loc[0, "status"] == "failed"
    assert out.loc[0, "code"] == "bad_shop"
    assert sandbox.state.request_log() == []  # nothing was sent


def test_a_row_the_adapter_cannot_build_keeps_its_code_and_the_shop_goes_on(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An adapter's coded refusal of one row (its target) is that row's failure, with the
    adapter's own code: not ``bad_shop``, and the shop's other rows are still sent."""
    adapter = get_adapter("taobao_picture")
    build = type(adapter).build_request

    def refuse_one(self: Adapter, job: Job, *args: Any, **kwargs: Any) -> httpx.Request:
        if job.target == "7":
            raise ImgkitError("target '7' cannot be used", code="bad_target")
        return build(self, job, *args, **kwargs)

    monkeypatch.setattr(type(adapter), "build_request", refuse_one)
    one = imgkit.upload_one("tb_picture_main", MUG, "7", shops=sandbox.shops)
    assert (one.ok, one.code) == (False, "bad_target")
    batch = pd.concat(
        [one_row("tb_picture_main", str(MUG), "7"), one_row("tb_picture_main", str(MUG))]
    )
    out = upload(batch.reset_index(drop=True), sandbox, concurrency=1)
    assert out["code"].tolist()[0] == "bad_target"
    assert out["status"].tolist() == ["failed", "uploaded"], out[["status", "code", "message"]]


def douyin(sandbox: Sandbox) -> Shop:
    return make_shop("douyin_shop", sandbox.shops["douyin_shop"])


Operation = Callable[[Adapter, Shop], Callable[[Token], Any]]


def _send(adapter: Adapter, shop: Shop) -> Callable[[Token], Any]:
    async def build(token: Token) -> httpx.Request:
        job = Job("0", "mug.jpg", MUG.read_bytes(), "jpeg")
        return adapter.build_request(job, shop, now=time.time(), token=await token())

    return build


def _poll(adapter: Adapter, shop: Shop) -> Callable[[Token], Any]:
    async def build(token: Token) -> httpx.Request:
        return adapter.build_poll_request("7001", shop, now=time.time())

    return build


def _look_up(adapter: Adapter, shop: Shop) -> Callable[[Token], Any]:
    async def build(token: Token) -> httpx.Request | None:
        job = Job("0", "mug.jpg", MUG.read_bytes(), "jpeg")
        return adapter.build_lookup_request(job, shop, now=time.time(), token=await token())

    return build


OPERATIONS: dict[str, tuple[Operation, str]] = {
    "send": (_send, "parse_response"),
    "poll": (_poll, "parse_response"),
    "look-up": (_look_up, "parse_lookup_response"),
}


def exchange(sandbox: Sandbox, operation: str, transport: httpx.AsyncBaseTransport) -> Any:
    """One exchange of ``operation`` with Douyin through ``transport``, no retry."""
    adapter, shop = get_adapter("doudian"), douyin(sandbox)
    make, parse = OPERATIONS[operation]

    async def main() -> Any:
        async with Sender(1, timeout=5.0, transport=transport) as sender:
            link = Link(sender, PacerPool(lambda platform, shop: 100.0), RunTokens())
            return await call(link, adapter, shop, make(adapter, shop), getattr(adapter, parse))

    return asyncio.run(main())


def facts(outcome: Any) -> tuple[object, ...]:
    assert isinstance(outcome, Outcome), outcome
    return (outcome.ok, outcome.category, outcome.code, outcome.maybe_stored, outcome.retryable)


def test_a_dropped_connection_means_the_same_to_every_operation(sandbox: Sandbox) -> None:
    sandbox.set_faults(seed=1, drop_before_store=1.0)
    seen = {op: facts(exchange(sandbox, op, Seen())) for op in OPERATIONS}
    assert seen["send"] == (False, Category.TIMEOUT, "no_answer", True, True)
    assert seen["poll"] == seen["send"] == seen["look-up"]


def test_a_refused_connection_means_the_same_to_every_operation(sandbox: Sandbox) -> None:
    shop = dict(sandbox.shops["douyin_shop"], base_url="http://127.0.0.1:9")  # nothing there
    adapter = get_adapter("doudian")
    found = {}
    for op, (make, parse) in OPERATIONS.items():
        link_shop = make_shop("douyin_shop", shop)

        async def main(make: Operation = make, parse: str = parse, s: Shop = link_shop) -> Any:
            async with Sender(1, timeout=5.0) as sender:
                link = Link(sender, None, RunTokens())
                return await call(link, adapter, s, make(adapter, s), getattr(adapter, parse))

        found[op] = facts(asyncio.run(main()))
    assert found["send"] == (False, Category.TRANSIENT, "connect", False, True)
    assert found["poll"] == found["send"] == found["look-up"]


def test_an_unreadable_answer_means_the_same_to_every_operation(sandbox: Sandbox) -> None:
    seen = {op: facts(exchange(sandbox, op, Seen(body=HOSTILE))) for op in OPERATIONS}
    ok, category, _code, maybe_stored, _retryable = seen["send"]
    assert (ok, category, maybe_stored) == (False, Category.TRANSIENT, True)
    assert seen["poll"] == seen["send"] == seen["look-up"]


def test_upload_one_maps_an_unreadable_answer_as_the_engine_does(sandbox: Sandbox) -> None:
    class Hostile(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=HOSTILE, request=request)

    one = imgkit.upload_one("douyin_shop", MUG, "0", shops=sandbox.shops, client=Hostile())
    assert facts(one) == facts(exchange(sandbox, "send", Seen(body=HOSTILE)))


def test_a_url_source_is_downloaded_through_the_runs_transport(sandbox: Sandbox) -> None:
    first = imgkit.upload_one("tb_picture_main", MUG, "0", shops=sandbox.shops)
    assert first.ok, first
    image = httpx.URL(first.url).path
    seen = Seen()
    out = upload(one_row("qianmi_shop", first.url, "18353/g1234"), sandbox, transport=seen)
    assert out["status"].tolist() == ["uploaded"], out[["status", "code", "message"]]
    # Both downloads, validation's probe and the engine's, not only the upload, went through it.
    assert seen.paths.count(image) == 2, seen.paths
    wire = SeenSync()
    try:
        # Position 1: the first copy holds the SKU's default position 0.
        again = imgkit.upload_one(
            "qianmi_shop", first.url, "18353/g1234", shops=sandbox.shops, client=wire, position=1
        )
    finally:
        wire.close()
    assert again.ok, again
    assert wire.paths[0] == image


def test_an_in_process_sandbox_serves_url_sources_to_validation_and_the_engine(
    sandbox: Sandbox,
) -> None:
    """With ``transport=sandbox.asgi_transport()`` a URL source is fetched in-process by both
    validation's probe and the engine: a host no socket could reach still downloads."""
    first = imgkit.upload_one("tb_picture_main", MUG, "0", shops=sandbox.shops)
    assert first.ok, first
    unreachable = httpx.URL(first.url).copy_with(scheme="http", host="sandbox.invalid", port=None)
    batch = one_row("qianmi_shop", str(unreachable), "18353/g1234")
    out = upload(batch, sandbox, transport=sandbox.asgi_transport())
    assert out["status"].tolist() == ["uploaded"], out[["status", "code", "message"]]
    assert out.loc[0, "sha256"] == hashlib.sha256(MUG.read_bytes()).hexdigest()


def test_the_shops_are_read_once_per_upload(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import imgkit.intake.validation as validation

    reads: list[object] = []
    tables = validation._tables

    def counted(shops: Any) -> Any:
        reads.append(shops)
        return tables(shops)

    monkeypatch.setattr(validation, "_tables", counted)
    out = upload(one_row("tb_picture_main", str(MUG)), sandbox, dry_run=True)
    assert out["status"].tolist() == ["planned"]
    assert len(reads) == 1


class SlowTokens(Seen):
    """Token answers take a while, so that other rows want a token meanwhile."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH:
            await asyncio.sleep(0.3)
        return await super().handle_async_request(request)


def test_rows_that_need_a_token_at_once_share_one_fetch(sandbox: Sandbox) -> None:
    """Rows that find no token while another row is fetching one wait for that fetch."""
    TokenCache.clear()
    seen = SlowTokens()
    files = [MUG.with_name(name) for name in ("mug.jpg", "backpack.jpg", "watch.jpg", "cap.png")]
    batch = pd.concat([one_row(OAUTH, str(file)) for file in files])
    out = upload(batch.reset_index(drop=True), sandbox, transport=seen, concurrency=4)
    assert set(out["status"]) == {"uploaded"}, out[["status", "code", "message"]]
    assert seen.paths.count(TOKEN_PATH) == 1, seen.paths


def test_only_the_refused_token_is_dropped(sandbox: Sandbox) -> None:
    """Rows refused together with one token drop it once: a token another row fetched
    meanwhile is kept (else every row would fetch its own)."""
    adapter, shop = get_adapter("taobao_picture"), make_shop(OAUTH, sandbox.shops[OAUTH])
    for tokens in (RunTokens(), TokenCache()):
        tokens.keep(adapter, shop, "fresh", 3600.0)
        assert not tokens.invalidate(adapter, shop, "refused")
        assert tokens.cached(adapter, shop) == "fresh"
        assert tokens.invalidate(adapter, shop, "fresh")
        assert tokens.cached(adapter, shop) is None
    TokenCache.clear()


def test_the_bridge_refuses_to_block_its_own_loop() -> None:
    """Used from the thread of the loop it sends on, the bridge would wait for that very
    loop for ever: it refuses at once instead."""
    from imgkit.net.bridge import AsyncBridge

    async def served(request: httpx.Request) -> httpx.Response:
        return httpx.Response(204)

    async def main() -> None:
        bridge = AsyncBridge(httpx.MockTransport(served), asyncio.get_running_loop())
        with pytest.raises(RuntimeError, match="its own loop"):
            bridge.handle_request(httpx.Request("GET", "http://x.test/"))
        bridge.close()

    asyncio.run(main())
