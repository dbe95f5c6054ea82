"""The look-ups (``docs/lookups.md``) against the sandbox, over loopback HTTP.

For each platform with a look-up: an image uploaded with the adapter is found by the
adapter's look-up (same id, its URL serving the same bytes), a re-sent copy is found too
(the case a look-up exists for), a target with nothing uploaded lists nothing and says so
in full, and a target that does not exist is refused as the upload would be.  Requests
are built only by the adapters; expectations come from ``docs/lookups.md`` and the sandbox
world of ``docs/sandbox.md``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from test_conformance import encode, make_job, secret_values, send

from imgkit import Category, Sandbox
from imgkit.platforms import get_adapter
from imgkit.platforms.base import Adapter, Job, Lookup, Outcome
from imgkit.shops import Shop, load_shops
from imgkit.single import TokenCache


@dataclass(frozen=True)
class World:
    """Where each platform uploads in the sandbox world (``docs/sandbox.md``)."""

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
    first, second = platform.upload(job), platform.upload(job)
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
