"""The look-ups (``docs/lookups.md``) against the sandbox, over loopback HTTP.

For each platform with a look-up: an image uploaded with the adapter is found by the
adapter's look-up (same id, its URL serving the same bytes), a re-sent copy is found too
(the case a look-up exists for), a target with nothing uploaded lists nothing and says so
in full, and a target that does not exist is refused as the upload would be.  Requests
are built only by the adapters; expectations come from ``docs/lookups.md`` and the sandbox
world of ``docs/sandbox-world.md``.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from test_conformance import encode, make_job, secret_values, send

import imgkit
from imgkit import Category, Sandbox
from imgkit.engine.pacing import PacerPool
from imgkit.engine.retry import RetryPolicy
from imgkit.engine.settle import Verdict, look_up
from imgkit.engine.single import TokenCache
from imgkit.intake.shops import Shop, load_shops
from imgkit.net.transport import Sender
from imgkit.net.wire import WireTransport
from imgkit.platforms import get_adapter
from imgkit.platforms.base import Adapter, Job, Lookup, Outcome
from imgkit.sandbox import AuditRule


@dataclass(frozen=True)
class World:
    """Where each platform uploads in the sandbox world (``docs/sandbox-world.md``)."""

    shop: str  # a shop name of ``Sandbox.shops``
    target: str
    empty_target: str  # a target of the same shop that holds no image after a reset
    missing_target: str  # well-formed, absent from the world
    missing_category: Category  # how the look-up (as the upload) refuses it


WORLD = {
    "taobao_picture": World(
        "tb_picture_main",
        "0",
        "1657717355974335419",
        "99",
        # vv-tool has no not-found code for categories: 100 (bad parameter), as the upload.
        Category.INVALID_INPUT,
    ),
    "taobao_miniapp": World(
        "miniapp_main", "3000000012345", "3000000012346", "3000000099999", Category.NOT_FOUND
    ),
    "tmall_item": World(
        "tmall_store", "1489161941", "1489161940", "1489169999", Category.NOT_FOUND
    ),
    "qianmi_sku": World(
        "qianmi_shop", "18353/g1234", "18353/g1235", "18353/g9999", Category.NOT_FOUND
    ),
    # An unknown folder is 40004 isv.parameter-invalid:folder_id, as for the upload.
    "doudian": World("douyin_shop", "0", "73691281073984637961425", "123", Category.INVALID_INPUT),
}


@dataclass
class Platform:
    key: str
    adapter: Adapter
    world: World
    shop: Shop
    client: httpx.Client
    secrets: set[str]

    def upload(self, job: Job) -> Outcome:
        out = send(self.adapter, self.shop, job, now=time.time(), client=self.client).outcome
        assert out.ok, out
        assert out.image_id, out
        return out

    def lookup(self, job: Job) -> Lookup | Outcome:
        token = TokenCache().get(self.adapter, self.shop, self.client)
        request = self.adapter.build_lookup_request(job, self.shop, now=time.time(), token=token)
        assert request is not None, f"{self.key} builds no look-up for {job}"
        return self.adapter.parse_lookup_response(self.client.send(request))

    def listing(self, job: Job) -> Lookup:
        found = self.lookup(job)
        assert isinstance(found, Lookup), found
        return found

    def fetch(self, url: str) -> bytes:
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response.content


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A plain client: adapters build absolute URLs; never a proxy (loopback only)."""
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        yield client


@pytest.fixture(params=sorted(WORLD))
def platform(request: pytest.FixtureRequest, sandbox: Sandbox, http: httpx.Client) -> Platform:
    key: str = request.param
    world = WORLD[key]
    shop = load_shops(sandbox.shops)[world.shop]
    return Platform(key, get_adapter(key), world, shop, http, secret_values(sandbox.shops))


def job_for(p: Platform, data: bytes, filename: str, target: str = "") -> Job:
    return make_job(target or p.world.target, filename, data)


def test_an_uploaded_image_is_found(platform: Platform) -> None:
    data = encode("JPEG", color=(12, 150, 90))
    job = job_for(platform, data, f"lookup-{platform.key}.jpg")
    stored = platform.upload(job)
    found = platform.listing(job)
    assert found.complete, found
    ids = [candidate.image_id for candidate in found.candidates]
    assert ids.count(stored.image_id) == 1, (stored, found)
    candidate = next(c for c in found.candidates if c.image_id == stored.image_id)
    assert candidate.size in (None, len(data)), candidate
    assert platform.fetch(candidate.url) == data


def test_a_resent_copy_is_found_too(platform: Platform) -> None:
    """The case look-ups are for: the first send was stored, the re-send stored a copy.

    Picture spaces rename the copy "(1)"; the look-up's title filter finds both.
    """
    data = encode("JPEG", color=(200, 10, 10))
    job = job_for(platform, data, f"copy-{platform.key}.jpg")
    again = job
    if platform.key == "qianmi_sku":
        # Qianmi refuses a second image at a position the SKU already holds (a missing
        # position is 0), so the copy is a re-send that names another position.
        again = make_job(job.target, job.filename, data, position="1")
    first, second = platform.upload(job), platform.upload(again)
    found = platform.listing(job)
    assert found.complete, found
    ids = {candidate.image_id for candidate in found.candidates}
    assert {first.image_id, second.image_id} <= ids, found
    for candidate in found.candidates:
        if candidate.image_id in (first.image_id, second.image_id):
            assert platform.fetch(candidate.url) == data


def test_a_target_with_nothing_uploaded_lists_nothing_in_full(platform: Platform) -> None:
    job = job_for(platform, encode("JPEG"), "nothing-here.jpg", platform.world.empty_target)
    assert platform.listing(job) == Lookup(candidates=(), complete=True)


# Only the picture spaces filter by title; Tmall and Qianmi list the whole item or SKU.
@pytest.mark.parametrize("platform", ["taobao_picture", "taobao_miniapp"], indirect=True)
def test_the_title_filter_leaves_other_pictures_out(platform: Platform) -> None:
    other = platform.upload(job_for(platform, encode("JPEG", color=(1, 2, 3)), "其他图片.jpg"))
    job = job_for(platform, encode("JPEG", color=(4, 5, 6)), "主图 白色.jpg")
    mine = platform.upload(job)
    found = platform.listing(job)
    assert found.complete, found
    assert [c.image_id for c in found.candidates] == [mine.image_id], (other, found)
    assert found.candidates[0].title == "主图 白色"


def test_a_missing_target_is_refused_as_the_upload_is(platform: Platform) -> None:
    job = job_for(platform, encode("JPEG"), "a.jpg", platform.world.missing_target)
    found = platform.lookup(job)
    assert isinstance(found, Outcome), found
    assert not found.ok
    assert found.category is platform.world.missing_category, found
    assert found.retryable is False, found
    for secret in platform.secrets:
        assert secret not in repr(found), found


# --- Douyin: unanswered uploads settled end to end through imgkit.upload ----------------------

FOUND = "a look-up found the image stored"  # settle.FOUND_MESSAGE
UPLOAD_PATH = "/gateway/dd/material/uploadimagesync"
SEARCH_PATH = "/gateway/dd/material/searchMaterial"
FAST = RetryPolicy(base_delay=0.01, max_delay=0.05, max_total=30.0)


class LoseFirstUpload(httpx.AsyncBaseTransport):
    """Real loopback HTTP (imgkit's own transport); the sandbox's ``fault`` meets the first
    Douyin upload only, so the look-up and any re-send after it get through."""

    def __init__(self, sandbox: Sandbox, fault: str, **faults: Any) -> None:
        self.sandbox, self.fault, self.faults = sandbox, fault, faults
        self.inner = WireTransport(max_connections=4)
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        first = path == UPLOAD_PATH and UPLOAD_PATH not in self.paths
        self.paths.append(path)
        if not first:
            return await self.inner.handle_async_request(request)
        self.sandbox.state.set_faults({self.fault: 1.0, "platforms": ["doudian"], **self.faults})
        try:
            return await self.inner.handle_async_request(request)
        finally:  # decided when the request arrived: later requests meet no drop
            self.sandbox.state.set_faults(self.faults)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def count(self, path: str) -> int:
        return self.paths.count(path)


def douyin_upload(
    sandbox: Sandbox, tmp_path: Path, wire: LoseFirstUpload, timeout: float = 60.0, **options: str
) -> pd.Series:
    """Upload one image to Douyin's root folder through the engine; its one result row."""
    image = tmp_path / "lost.jpg"
    image.write_bytes(encode("JPEG", color=(30, 60, 90)))
    row = {"platform": "doudian", "shop": "douyin_shop", "file": str(image), "target": "0"}
    frame = pd.DataFrame([row | options])
    results = imgkit.upload(
        frame,
        shops=sandbox.shops,
        transport=wire,
        journal=False,
        progress=False,
        policy=FAST,
        timeout=timeout,
    )
    out: pd.Series = results.iloc[0]
    return out


def stored_once(sandbox: Sandbox) -> None:
    stats = sandbox.stats()["doudian"]
    assert (stats["stored"], stats["duplicates"]) == (1, 0), stats
    assert stats["faults"] in ({"drop_after_store": 1}, {"drop_before_store": 1}), stats


@pytest.mark.parametrize("need_distinct", ["false", "true"])
def test_a_lost_douyin_answer_is_settled_by_the_lookup(
    sandbox: Sandbox, tmp_path: Path, need_distinct: str
) -> None:
    wire = LoseFirstUpload(sandbox, "drop_after_store")
    row = douyin_upload(sandbox, tmp_path, wire, need_distinct=need_distinct)
    assert row["status"] == "uploaded", row["message"]
    assert FOUND in row["message"]
    assert row["attempts"] == 1  # settled, not sent again
    assert wire.count(UPLOAD_PATH) == 1
    assert wire.count(SEARCH_PATH) == 1
    stored_once(sandbox)
    with sandbox.client() as http:
        assert http.get(row["url"]).content == Path(row["file"]).read_bytes()


def test_a_lost_douyin_answer_with_need_distinct_is_stored_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Under a 2 s audit too: whether looked up or re-sent, one material holds the image."""
    wire = LoseFirstUpload(sandbox, "drop_after_store", audit_delay_s=2.0)
    row = douyin_upload(sandbox, tmp_path, wire, need_distinct="true")
    assert row["status"] == "uploaded", row["message"]
    stored_once(sandbox)


def test_the_settle_waits_for_the_audit_instead_of_sending_again(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # The first listing shows the material under audit (no byte_url yet): asked again until
    # it passes, 2 s later, with the engine's default audit wait (60 s) as the budget.
    wire = LoseFirstUpload(sandbox, "drop_after_store", audit_delay_s=2.0)
    row = douyin_upload(sandbox, tmp_path, wire)
    assert row["status"] == "uploaded", row["message"]
    assert FOUND in row["message"]
    assert row["attempts"] == 1
    assert wire.count(UPLOAD_PATH) == 1
    assert wire.count(SEARCH_PATH) >= 2
    stored_once(sandbox)


def test_a_drop_before_store_is_settled_absent_and_sent_again(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    wire = LoseFirstUpload(sandbox, "drop_before_store")
    # A 1 s timeout: "not there" is believed 3 s after the send (engine.absent_after_s).
    row = douyin_upload(sandbox, tmp_path, wire, timeout=1.0)
    assert row["status"] == "uploaded", row["message"]
    assert FOUND not in row["message"]
    assert row["attempts"] == 2
    # Not there a second after; still not there once the platform had its time: re-sent.
    assert (wire.count(UPLOAD_PATH), wire.count(SEARCH_PATH)) == (2, 2)
    stored_once(sandbox)


# --- settle.look_up itself against the sandbox (pending listings) -----------------------------


class Recording(Sender):
    """The engine's sender over real loopback HTTP, remembering what it sent."""

    def __init__(self) -> None:
        super().__init__(4)
        self.sent: list[str] = []

    async def send(self, request: httpx.Request, **options: Any) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        return await super().send(request, **options)


def settle(sandbox: Sandbox, job: Job, *, pending_wait_s: float) -> tuple[Verdict, list[str]]:
    shop = load_shops(sandbox.shops)["douyin_shop"]
    assert job.data is not None
    digest = hashlib.sha256(job.data).hexdigest()

    async def main() -> tuple[Verdict, list[str]]:
        sender = Recording()
        async with sender:
            verdict = await look_up(
                sender,
                PacerPool(lambda platform, shop: 100.0),
                get_adapter("doudian"),
                shop,
                job,
                "",
                digest,
                claimed=set(),
                pending_wait_s=pending_wait_s,
            )
            return verdict, sender.sent

    return asyncio.run(main())


def douyin(sandbox: Sandbox, http: httpx.Client) -> Platform:
    shop = load_shops(sandbox.shops)["douyin_shop"]
    adapter = get_adapter("doudian")
    return Platform("doudian", adapter, WORLD["doudian"], shop, http, secret_values(sandbox.shops))


def test_look_up_waits_for_the_audit_and_downloads_through_the_sender(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    p = douyin(sandbox, http)
    sandbox.state.set_faults({"audit_delay_s": 1.0})
    job = job_for(p, encode("JPEG", color=(90, 30, 60)), "审核中.jpg")
    pending = send(p.adapter, p.shop, job, now=time.time(), client=p.client).outcome
    assert pending.category is Category.AUDIT_PENDING, pending
    verdict, sent = settle(sandbox, job, pending_wait_s=30.0)
    assert verdict.state == "stored", verdict
    assert verdict.outcome is not None
    assert verdict.outcome.image_id == pending.pending_id
    assert sent.count(f"POST {SEARCH_PATH}") >= 2  # under audit at first, then passed
    assert sent[-1].startswith("GET /img/")  # the byte_url, through client.send


def test_look_up_out_of_audit_wait_is_unknown(sandbox: Sandbox, http: httpx.Client) -> None:
    p = douyin(sandbox, http)
    sandbox.state.set_faults({"audit_delay_s": 600.0})
    job = job_for(p, encode("JPEG", color=(60, 90, 30)), "久审.jpg")
    assert send(p.adapter, p.shop, job, now=time.time(), client=p.client).outcome.pending_id
    verdict, sent = settle(sandbox, job, pending_wait_s=1.5)
    assert verdict.state == "unknown", verdict
    assert "still being processed" in verdict.reason
    assert sent.count(f"POST {SEARCH_PATH}") >= 2  # asked again within the budget
    assert not any(line.startswith("GET") for line in sent)  # nothing to download yet


def test_look_up_of_a_rejected_material_is_absent(sandbox: Sandbox, http: httpx.Client) -> None:
    p = douyin(sandbox, http)
    data = encode("JPEG", color=(10, 20, 30))
    job = job_for(p, data, "驳回.jpg")
    sandbox.state.add_audit_rule(AuditRule(reason="违规", material_name="驳回.jpg"))
    assert send(p.adapter, p.shop, job, now=time.time(), client=p.client).outcome.audit_status == 4
    verdict, _ = settle(sandbox, job, pending_wait_s=5.0)
    assert verdict.state == "absent", verdict
