"""Fault injection, stats, reset, the request log, limits, image serving and in-process mode.

Over real loopback HTTP against the session's sandbox (``conftest.sandbox``), across all five
platforms, with requests built only by ``spec_clients``.  The control surface is driven
through its HTTP endpoints under ``/_sandbox/``; the in-process test runs the same app
through ``imgkit.sandbox.asgi_transport`` with no socket at all.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from spec_clients import (
    build_fw199_upload_request,
    fw199_upload,
    make_jpeg,
    make_png,
    qianmi_upload,
    top_call,
    vv_upload,
)

import imgkit.sandbox
from imgkit.platforms import platform_keys
from imgkit.sandbox import Sandbox, SandboxState, registry

# From the adapters' declarations: a platform added there is exercised here too.
PLATFORM_KEYS = platform_keys()
COUNTERS = {"requests", "stored", "replaced", "duplicates", "rejections", "faults"}
EXAMPLE = {
    "seed": 1,
    "latency_ms": [20, 80],
    "transient": 0.05,
    "rate_limited": 0.02,
    "http_500": 0.01,
    "drop_before_store": 0.01,
    "drop_after_store": 0.02,
    "audit_delay_s": 0.5,
}
FW199: dict[str, Any] = {
    "appid": "sbx-fw199-app",
    "secret": "sbx-fw199-secret",
    "seller_nick": "38173182",
}
TOP_APP: dict[str, Any] = {"app_key": "21000001", "secret": "sbx-top-secret-a"}
BAN = re.compile(r"This ban will last for \d+ more seconds")
FIXED_NOW = 1704081600  # a sandbox clock setting: 2024-01-01 12:00:00 GMT+8, far from today


# --- one valid upload per platform ------------------------------------------------------------


def _vv(client: httpx.Client, data: bytes) -> httpx.Response:
    return vv_upload(
        client, token="sbx-vv-token-1", shop_id="sbx_tb_shop_1", img=data, filename="a.jpg"
    )


def _miniapp(client: httpx.Client, data: bytes) -> httpx.Response:
    return top_call(
        client,
        method="taobao.miniapp.trade.picture.upload",
        **TOP_APP,
        session="sbx-session-miniapp-1",
        app_params={"miniapp_id": "3000000012345", "file_name": "a.jpg"},
        files={"bytes": ("a.jpg", data)},
    )


def _tmall(client: httpx.Client, data: bytes) -> httpx.Response:
    return top_call(
        client,
        method="taobao.item.img.upload.tmall",
        **TOP_APP,
        session="sbx-session-tmall-1",
        app_params={"num_iid": "1489161940"},
        files={"image": ("a.jpg", data)},
    )


def _doudian(client: httpx.Client, data: bytes) -> httpx.Response:
    return fw199_upload(client, **FW199, material_name="a.jpg", file=data)


# Qianmi refuses a position another image of the SKU holds (a missing one is 0), so each
# upload of these tests takes the next position: five uploads per test never collide.
_QIANMI_POSITIONS = itertools.count()


def _qianmi(client: httpx.Client, data: bytes) -> httpx.Response:
    return qianmi_upload(
        client,
        app_key="10009001",
        secret="sbx-qianmi-secret",
        access_token="sbx-qm-token-1",
        num_iid="18353",
        sku_id="g1234",
        image_bytes=data,
        position=next(_QIANMI_POSITIONS) % 5,
    )


def _vv_url(body: dict[str, Any]) -> str:
    assert body["code"] == 0, body
    url: str = body["data"]["picture_upload_response"]["picture"]["picture_path"]
    return url


def _miniapp_url(body: dict[str, Any]) -> str:
    result = body["miniapp_trade_picture_upload_response"]["result"]
    assert result["success"] is True, body
    url: str = result["model"]["path"]
    return url


def _tmall_url(body: dict[str, Any]) -> str:
    url: str = body["item_img_upload_tmall_response"]["item_img"]["url"]
    return url


def _doudian_url(body: dict[str, Any]) -> str:
    assert body["code"] == 0, body
    url: str = body["data"]["material_info"]["byte_url"]
    return url


def _qianmi_url(body: dict[str, Any]) -> str:
    url: str = body["sku_image_upload_response"]["sku_img"]["url"]
    return url


def _top_transient(response: httpx.Response) -> None:
    # docs/protocols.md, TOP: 15 remote service error with an `isp.*` sub-code → transient.
    error = response.json()["error_response"]
    assert error["code"] == 15
    assert error["sub_code"].startswith("isp.")


def _top_rate_limited(response: httpx.Response) -> None:
    # docs/protocols.md, TOP: code 7, a temporary ban whose length is in `sub_msg`.
    error = response.json()["error_response"]
    assert error["code"] == 7
    assert error["sub_code"] in {
        "accesscontrol.limited-by-api-access-count",
        "accesscontrol.limited-by-app-api-access-count",
    }
    assert BAN.search(error["sub_msg"]), error


def _vv_transient(response: httpx.Response) -> None:
    assert response.json()["code"] == 101  # docs/protocols.md: vv-tool 101 timeout, retry


def _vv_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429  # docs/protocols.md: HTTP 429 {"code": 429, "msg": …}
    body = response.json()
    assert (body["code"], body["msg"]) == (429, "请求过于频繁")


def _doudian_transient(response: httpx.Response) -> None:
    body = response.json()
    assert body["code"] == 20000  # docs/protocols.md: Douyin 20000/20001, isp.* → transient
    assert body["sub_code"].startswith("isp.")


def _doudian_rate_limited(response: httpx.Response) -> None:
    assert response.json()["code"] == 60000  # docs/protocols.md, Douyin: 60000 → rate_limited


def _qianmi_transient(response: httpx.Response) -> None:
    assert str(response.json()["code"]) in {"1", "4"}  # docs/protocols.md, Qianmi: 1/4 → transient


def _qianmi_rate_limited(response: httpx.Response) -> None:
    assert str(response.json()["code"]) == "37"  # docs/protocols.md, Qianmi: 34–37; 37 is frequency


@dataclass(frozen=True)
class Target:
    """How to upload to one platform and read its answers."""

    key: str
    send: Callable[[httpx.Client, bytes], httpx.Response]
    url_of: Callable[[dict[str, Any]], str]
    is_transient: Callable[[httpx.Response], None]
    is_rate_limited: Callable[[httpx.Response], None]

    def ok(self, response: httpx.Response) -> str:
        """Check a successful answer; return the image URL it gives."""
        assert response.status_code == 200, response.text
        return self.url_of(response.json())


TARGETS = {
    t.key: t
    for t in (
        Target("taobao_picture", _vv, _vv_url, _vv_transient, _vv_rate_limited),
        Target("taobao_miniapp", _miniapp, _miniapp_url, _top_transient, _top_rate_limited),
        Target("tmall_item", _tmall, _tmall_url, _top_transient, _top_rate_limited),
        Target("doudian", _doudian, _doudian_url, _doudian_transient, _doudian_rate_limited),
        Target("qianmi_sku", _qianmi, _qianmi_url, _qianmi_transient, _qianmi_rate_limited),
    )
}
each_platform = pytest.mark.parametrize("key", PLATFORM_KEYS)


def set_faults(client: httpx.Client, plan: dict[str, Any]) -> dict[str, Any]:
    """``POST /_sandbox/faults``, which must be accepted; return the echoed plan."""
    response = client.post("/_sandbox/faults", json=plan)
    assert response.status_code == 200, response.text
    echoed: dict[str, Any] = response.json()
    return echoed


def get_stats(client: httpx.Client) -> dict[str, Any]:
    """``GET /_sandbox/stats``."""
    response = client.get("/_sandbox/stats")
    assert response.status_code == 200
    out: dict[str, Any] = response.json()
    return out


def set_clock(client: httpx.Client, at: float | None) -> dict[str, Any]:
    """``POST /_sandbox/clock``, which must be accepted; return the answer."""
    response = client.post("/_sandbox/clock", json={"at": at})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_targets_cover_every_platform() -> None:
    assert set(TARGETS) == set(PLATFORM_KEYS) == set(registry.emulators())


@each_platform
def test_baseline_upload_is_stored_and_served(client: httpx.Client, key: str) -> None:
    data = make_jpeg(31, 17)
    url = TARGETS[key].ok(TARGETS[key].send(client, data))
    served = client.get(url)
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"] == "image/jpeg"
    counters = get_stats(client)[key]
    assert (counters["requests"], counters["stored"], counters["faults"]) == (1, 1, {})


# --- the fault plan ---------------------------------------------------------------------------


def test_example_plan_is_accepted_and_echoed(client: httpx.Client) -> None:
    echoed = set_faults(client, EXAMPLE)
    for key, value in EXAMPLE.items():
        assert echoed[key] == value, key
    assert echoed["platforms"] is None
    assert echoed["force"] == []
    assert client.get("/_sandbox/faults").json() == echoed


def test_faults_endpoint_shows_no_faults_by_default(client: httpx.Client) -> None:
    plan = client.get("/_sandbox/faults").json()
    for key in ("transient", "rate_limited", "http_500", "drop_before_store", "drop_after_store"):
        assert plan[key] == 0
    assert (plan["latency_ms"], plan["audit_delay_s"], plan["force"]) == ([0, 0], 0, [])


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{", id="not-json"),
        pytest.param(b"[1, 2]", id="json-array"),
        pytest.param(b'"transient"', id="json-string"),
        pytest.param({"transient": 0.1, "latency": 5}, id="unknown-key"),
        pytest.param({"transient": 1.5}, id="probability-above-1"),
        pytest.param({"http_500": -0.1}, id="probability-negative"),
        pytest.param({"rate_limited": "0.5"}, id="probability-string"),
        pytest.param({"drop_after_store": True}, id="probability-bool"),
        pytest.param({"drop_before_store": None}, id="probability-null"),
        pytest.param({"latency_ms": [80, 20]}, id="latency-reversed"),
        pytest.param({"latency_ms": [20]}, id="latency-one-value"),
        pytest.param({"latency_ms": [-5, 20]}, id="latency-negative"),
        pytest.param({"latency_ms": "20-80"}, id="latency-string"),
        pytest.param({"seed": "one"}, id="seed-string"),
        pytest.param({"seed": 1.5}, id="seed-float"),
        pytest.param({"audit_delay_s": -1}, id="audit-delay-negative"),
        pytest.param({"audit_delay_s": "soon"}, id="audit-delay-string"),
        pytest.param({"platforms": "doudian"}, id="platforms-not-a-list"),
        pytest.param({"force": {"platform": "doudian", "error": "x"}}, id="force-not-a-list"),
        pytest.param({"force": [{"platform": "doudian"}]}, id="force-without-error"),
        pytest.param(
            {"force": [{"platform": "doudian", "error": "service_busy", "times": 0}]},
            id="force-times-zero",
        ),
        pytest.param(
            {"force": [{"platform": "doudian", "error": "no-such-error"}]},
            id="force-unknown-error",
        ),
        pytest.param(b'{"audit_delay_s": NaN}', id="audit-delay-nan"),
        pytest.param(b'{"latency_ms": [0, 1e999]}', id="latency-infinite"),
        pytest.param({"seed": True}, id="seed-bool"),
        pytest.param(
            {"force": [{"platform": "doudian", "error": "service_busy", "times": True}]},
            id="force-times-bool",
        ),
        pytest.param({"platforms": ["doudain"]}, id="platforms-typo"),
    ],
)
def test_invalid_fault_plans_are_refused_with_a_message(
    client: httpx.Client, body: bytes | dict[str, Any]
) -> None:
    before = set_faults(client, {"seed": 5, "latency_ms": [1, 2]})
    if isinstance(body, bytes):
        response = client.post(
            "/_sandbox/faults", content=body, headers={"content-type": "application/json"}
        )
    else:
        response = client.post("/_sandbox/faults", json=body)
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    assert isinstance(message, str)
    assert message
    after = client.get("/_sandbox/faults")
    assert after.status_code == 200
    assert after.json() == before  # a refused plan changes nothing


def test_latency_is_added(client: httpx.Client) -> None:
    def timed(key: str) -> float:
        started = time.monotonic()
        TARGETS[key].ok(TARGETS[key].send(client, make_png(11, 11)))
        return time.monotonic() - started

    assert min(timed("doudian"), timed("doudian")) < 0.4  # without faults
    set_faults(client, {"latency_ms": [400, 400]})
    for key in PLATFORM_KEYS:
        assert timed(key) >= 0.4, key


@each_platform
def test_http_500(client: httpx.Client, key: str) -> None:
    set_faults(client, {"http_500": 1.0})
    response = TARGETS[key].send(client, make_jpeg())
    assert response.status_code == 500
    counters = get_stats(client)[key]
    assert (counters["stored"], counters["faults"]) == (0, {"http_500": 1})


def test_control_and_image_requests_are_never_faulted(client: httpx.Client) -> None:
    data = make_png(14, 14)
    url = TARGETS["doudian"].ok(_doudian(client, data))
    set_faults(client, {"http_500": 1.0, "drop_before_store": 1.0, "latency_ms": [500, 500]})
    checks: list[tuple[str, Callable[[httpx.Response], bool]]] = [
        (url, lambda r: r.content == data),
        ("/_sandbox/health", lambda r: r.json() == {"ok": True}),
        ("/_sandbox/stats", lambda r: r.json()["doudian"]["stored"] == 1),
        ("/_sandbox/faults", lambda r: r.json()["http_500"] == 1.0),
    ]
    for path, check in checks:
        started = time.monotonic()
        response = client.get(path)
        assert time.monotonic() - started < 0.5, path
        assert response.status_code == 200, path
        assert check(response), path


@each_platform
def test_transient_gives_the_platforms_transient_answer(client: httpx.Client, key: str) -> None:
    set_faults(client, {"transient": 1.0})
    response = TARGETS[key].send(client, make_jpeg())
    TARGETS[key].is_transient(response)
    counters = get_stats(client)[key]
    assert (counters["stored"], counters["faults"]) == (0, {"transient": 1})
    assert sum(counters["rejections"].values()) == 1


@each_platform
def test_rate_limited_gives_the_platforms_rate_limit_answer(client: httpx.Client, key: str) -> None:
    set_faults(client, {"rate_limited": 1.0})
    response = TARGETS[key].send(client, make_jpeg())
    TARGETS[key].is_rate_limited(response)
    counters = get_stats(client)[key]
    assert (counters["stored"], counters["faults"]) == (0, {"rate_limited": 1})


@each_platform
def test_drop_before_store_stores_nothing(client: httpx.Client, key: str) -> None:
    set_faults(client, {"drop_before_store": 1.0})
    with pytest.raises(httpx.RemoteProtocolError):
        TARGETS[key].send(client, make_jpeg())
    stats = get_stats(client)
    assert (stats[key]["requests"], stats[key]["stored"]) == (1, 0)
    assert stats[key]["faults"] == {"drop_before_store": 1}
    assert stats["images"] == 0
    set_faults(client, {})
    TARGETS[key].ok(TARGETS[key].send(client, make_jpeg()))  # the client recovers


@each_platform
def test_drop_after_store_stores_and_a_retry_duplicates(client: httpx.Client, key: str) -> None:
    data = make_jpeg(23, 29)
    set_faults(client, {"drop_after_store": 1.0})
    with pytest.raises(httpx.RemoteProtocolError):
        TARGETS[key].send(client, data)
    stats = get_stats(client)
    assert (stats[key]["stored"], stats[key]["duplicates"], stats["images"]) == (1, 0, 1)
    assert stats[key]["faults"] == {"drop_after_store": 1}
    set_faults(client, {})
    url = TARGETS[key].ok(TARGETS[key].send(client, data))  # the naive retry
    assert client.get(url).content == data
    stats = get_stats(client)
    assert (stats[key]["stored"], stats[key]["duplicates"], stats["images"]) == (2, 1, 2)


@each_platform
def test_drop_after_store_spares_requests_that_store_nothing(
    client: httpx.Client, key: str
) -> None:
    set_faults(client, {"drop_after_store": 1.0})
    response = TARGETS[key].send(client, b"not an image at all")
    assert response.status_code == 200
    assert get_stats(client)[key]["faults"] == {}


def test_platforms_restricts_the_faults(client: httpx.Client) -> None:
    echoed = set_faults(client, {"http_500": 1.0, "platforms": ["doudian", "qianmi_sku"]})
    assert echoed["platforms"] == ["doudian", "qianmi_sku"]
    for key in PLATFORM_KEYS:
        response = TARGETS[key].send(client, make_jpeg())
        if key in ("doudian", "qianmi_sku"):
            assert response.status_code == 500, key
        else:
            TARGETS[key].ok(response)
    stats = get_stats(client)
    assert {k: stats[k]["faults"].get("http_500", 0) for k in PLATFORM_KEYS} == {
        "taobao_picture": 0,
        "taobao_miniapp": 0,
        "tmall_item": 0,
        "doudian": 1,
        "qianmi_sku": 1,
    }


def _outcomes(client: httpx.Client, seed: int, count: int) -> list[str]:
    set_faults(client, {"seed": seed, "transient": 0.3, "http_500": 0.3})
    out = []
    for n in range(count):
        response = TARGETS["doudian"].send(client, make_jpeg(8 + n, 8))
        ok = response.status_code == 200
        out.append(str(response.json()["code"]) if ok else str(response.status_code))
    return out


def test_same_seed_replays_the_same_outcomes(client: httpx.Client) -> None:
    # Seed 3 happens to meet all three outcomes in ten requests (every fault kind draws once
    # per request, so the sequence a seed gives changes when kinds are added).
    first = _outcomes(client, 3, 10)
    assert set(first) == {"0", "20000", "500"}, first
    assert _outcomes(client, 3, 10) == first
    assert _outcomes(client, 2, 10) != first


def test_forced_errors_are_used_up(client: httpx.Client) -> None:
    echoed = set_faults(
        client,
        {
            "force": [
                {"platform": "doudian", "error": "service_busy", "times": 2},
                {"platform": "taobao_picture", "error": "system_error"},
            ]
        },
    )
    assert echoed["force"] == [
        {"platform": "doudian", "error": "service_busy", "times": 2},
        {"platform": "taobao_picture", "error": "system_error", "times": 1},
    ]
    doudian = TARGETS["doudian"]
    assert doudian.send(client, make_jpeg()).json()["code"] == 20001
    assert client.get("/_sandbox/faults").json()["force"] == [
        {"platform": "doudian", "error": "service_busy", "times": 1},
        {"platform": "taobao_picture", "error": "system_error", "times": 1},
    ]
    assert doudian.send(client, make_jpeg()).json()["code"] == 20001
    doudian.ok(doudian.send(client, make_jpeg()))
    TARGETS["qianmi_sku"].ok(TARGETS["qianmi_sku"].send(client, make_jpeg()))
    assert TARGETS["taobao_picture"].send(client, make_jpeg()).json()["code"] == 200
    TARGETS["taobao_picture"].ok(TARGETS["taobao_picture"].send(client, make_jpeg()))
    stats = get_stats(client)
    assert stats["doudian"]["faults"] == {"forced": 2}
    assert stats["taobao_picture"]["faults"] == {"forced": 1}
    assert client.get("/_sandbox/faults").json()["force"] == []


# --- stats, request log, reset, limits, images ------------------------------------------------


def test_stats_shape(client: httpx.Client, sandbox: Sandbox) -> None:
    stats = get_stats(client)
    assert set(stats) == {*PLATFORM_KEYS, "top_gateway", "total", "images"}
    for key in (*PLATFORM_KEYS, "top_gateway"):
        assert stats[key] == {
            "requests": 0,
            "stored": 0,
            "replaced": 0,
            "duplicates": 0,
            "rejections": {},
            "faults": {},
        }
    assert stats["total"] == {"requests": 0, "stored": 0, "replaced": 0, "duplicates": 0}
    assert stats["images"] == 0

    first = _miniapp(client, make_jpeg()).json()
    pic_id = first["miniapp_trade_picture_upload_response"]["result"]["model"]["pic_id"]
    replaced = top_call(
        client,
        method="taobao.miniapp.trade.picture.upload",
        **TOP_APP,
        session="sbx-session-miniapp-1",
        app_params={"miniapp_id": "3000000012345", "file_name": "a.jpg", "pic_id": pic_id},
        files={"bytes": ("a.jpg", make_png())},
    )
    _miniapp_url(replaced.json())
    _doudian(client, make_jpeg())
    _doudian(client, make_jpeg())
    fw199_upload(client, **{**FW199, "secret": "wrong"}, material_name="a.jpg", file=make_jpeg())
    set_faults(client, {"http_500": 1.0, "platforms": ["qianmi_sku"]})
    _qianmi(client, make_jpeg())

    stats = get_stats(client)
    assert stats == sandbox.state.stats()
    for key in (*PLATFORM_KEYS, "top_gateway"):
        assert set(stats[key]) == COUNTERS
    assert stats["taobao_miniapp"] | {"rejections": {}} == {
        "requests": 2,
        "stored": 1,
        "replaced": 1,
        "duplicates": 0,
        "rejections": {},
        "faults": {},
    }
    assert stats["doudian"] == {
        "requests": 3,
        "stored": 2,
        "replaced": 0,
        "duplicates": 1,
        "rejections": {"40003 isv.signature-invalid": 1},
        "faults": {},
    }
    assert stats["qianmi_sku"]["faults"] == {"http_500": 1}
    assert stats["total"] == {"requests": 6, "stored": 3, "replaced": 1, "duplicates": 1}
    assert stats["images"] == 3


def test_request_log(client: httpx.Client) -> None:
    started = time.time()
    _doudian(client, make_jpeg())
    fw199_upload(client, **{**FW199, "secret": "wrong"}, material_name="a.jpg", file=make_jpeg())
    _qianmi(client, make_jpeg())
    set_faults(client, {"http_500": 1.0, "platforms": ["doudian"]})
    _doudian(client, make_jpeg())

    response = client.get("/_sandbox/requests", params={"platform": "doudian"})
    assert response.status_code == 200
    records = response.json()["requests"]
    assert [set(r) for r in records] == [{"at", "platform", "credential", "outcome"}] * 3
    assert [r["platform"] for r in records] == ["doudian"] * 3
    assert [r["outcome"] for r in records] == [
        "ok",
        "40003 isv.signature-invalid",
        "fault:http_500",
    ]
    assert [r["credential"] for r in records[:2]] == ["sbx-fw199-app"] * 2
    stamps = [r["at"] for r in records]
    assert stamps == sorted(stamps)
    assert started <= stamps[0] <= stamps[-1] <= time.time()

    everything = client.get("/_sandbox/requests").json()["requests"]
    assert [r["platform"] for r in everything] == ["doudian", "doudian", "qianmi_sku", "doudian"]
    assert everything[2] | {"at": 0} == {
        "at": 0,
        "platform": "qianmi_sku",
        "credential": "10009001",
        "outcome": "ok",
    }
    assert client.get("/_sandbox/requests", params={"platform": "nope"}).json() == {"requests": []}


def test_reset_forgets_everything(client: httpx.Client, sandbox: Sandbox) -> None:
    data = make_jpeg()
    url = TARGETS["doudian"].ok(_doudian(client, data))
    assert client.get(url).content == data
    set_faults(client, {"latency_ms": 5, "transient": 0.5, "audit_delay_s": 3})
    assert client.post("/_sandbox/limits", json={"doudian_app_qps": 1}).status_code == 200
    rule = {"reason": "违规", "material_name": "a.jpg"}
    assert client.post("/_sandbox/audit", json=rule).status_code == 200
    set_clock(client, FIXED_NOW)
    default_limits = imgkit.sandbox.RateLimits()

    response = client.post("/_sandbox/reset")
    assert response.status_code == 200
    assert response.json() == {"reset": True}

    assert client.get(url).status_code == 404
    stats = get_stats(client)
    assert stats["total"] == {"requests": 0, "stored": 0, "replaced": 0, "duplicates": 0}
    assert stats["images"] == 0
    assert stats["doudian"]["rejections"] == stats["doudian"]["faults"] == {}
    plan = client.get("/_sandbox/faults").json()
    assert (plan["transient"], plan["latency_ms"], plan["audit_delay_s"]) == (0, [0, 0], 0)
    assert client.get("/_sandbox/requests").json() == {"requests": []}
    assert client.post("/_sandbox/limits", json={}).json() == vars(default_limits)
    assert client.get("/_sandbox/clock").json()["at"] is None  # real time again
    # No audit rule, no delay, no rate limit any more: two uploads both pass at once.
    for _ in range(2):
        info = _doudian(client, data).json()["data"]["material_info"]
        assert info["audit_status"] == 3


def test_limits_are_set_and_echoed(client: httpx.Client) -> None:
    response = client.post("/_sandbox/limits", json={"doudian_app_qps": 2, "top_app_qps": None})
    assert response.status_code == 200
    limits = response.json()
    assert set(limits) == set(vars(imgkit.sandbox.RateLimits()))
    assert (limits["doudian_app_qps"], limits["top_app_qps"]) == (2, None)
    assert limits["vv_token_qps"] == 10  # documented default, untouched
    answers = []
    for _ in range(8):
        answers.append(_doudian(client, make_jpeg()))
        if answers[-1].json()["code"] != 0:
            break
    TARGETS["doudian"].is_rate_limited(answers[-1])
    assert len(answers) >= 3  # two calls within a second pass, the third is refused


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{", id="not-json"),
        pytest.param(b"[]", id="json-array"),
        pytest.param({"doudian_qps": 1}, id="unknown-key"),
        pytest.param({"doudian_app_qps": -1}, id="negative"),
        pytest.param({"doudian_app_qps": "5"}, id="string"),
        pytest.param({"doudian_app_qps": True}, id="bool"),
        pytest.param({"top_ban_s": None}, id="ban-null"),
        pytest.param(
            {"doudian_app_qps": 5, "qianmi_app_qps": -1},
            id="partly-valid",
        ),
    ],
)
def test_invalid_limits_are_refused(client: httpx.Client, body: bytes | dict[str, Any]) -> None:
    before = client.post("/_sandbox/limits", json={}).json()
    if isinstance(body, bytes):
        response = client.post("/_sandbox/limits", content=body)
    else:
        response = client.post("/_sandbox/limits", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]
    assert client.post("/_sandbox/limits", json={}).json() == before


# --- the clock ---------------------------------------------------------------------------------


def test_clock_is_fixed_and_freed_over_http(client: httpx.Client, sandbox: Sandbox) -> None:
    before = time.time()
    real = client.get("/_sandbox/clock").json()
    assert real["at"] is None
    assert before <= real["now"] <= time.time()  # real time, bracketed
    assert set_clock(client, FIXED_NOW) == {"at": FIXED_NOW, "now": FIXED_NOW}
    assert client.get("/_sandbox/clock").json() == {"at": FIXED_NOW, "now": FIXED_NOW}
    assert sandbox.state.clock.now() == FIXED_NOW  # the same clock as from Python
    assert set_clock(client, FIXED_NOW + 0.25)["now"] == FIXED_NOW + 0.25
    before = time.time()
    freed = set_clock(client, None)
    assert freed["at"] is None
    assert before <= freed["now"] <= time.time()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{", id="not-json"),
        pytest.param(b"[1]", id="json-array"),
        pytest.param({}, id="no-at"),
        pytest.param({"time": FIXED_NOW}, id="unknown-key"),
        pytest.param({"at": FIXED_NOW, "offset": 5}, id="extra-key"),
        pytest.param({"at": "2024-01-01 12:00:00"}, id="text"),
        pytest.param({"at": True}, id="bool"),
        pytest.param(b'{"at": NaN}', id="nan"),
        pytest.param(b'{"at": 1e999}', id="infinite"),
    ],
)
def test_invalid_clock_settings_are_refused(
    client: httpx.Client, body: bytes | dict[str, Any]
) -> None:
    set_clock(client, FIXED_NOW)
    if isinstance(body, bytes):
        response = client.post(
            "/_sandbox/clock", content=body, headers={"content-type": "application/json"}
        )
    else:
        response = client.post("/_sandbox/clock", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]
    assert client.get("/_sandbox/clock").json()["at"] == FIXED_NOW  # a refusal changes nothing


def test_set_clock_from_python_refuses_what_is_not_a_number() -> None:
    state = SandboxState()
    with pytest.raises(imgkit.sandbox.FaultConfigError):
        state.set_clock("soon")  # type: ignore[arg-type]
    assert state.clock.fixed is None


def _timestamp_refused(key: str, response: httpx.Response) -> bool:
    """Whether ``response`` is ``key``'s gateway refusing the request's timestamp."""
    body = response.json()
    if key in ("taobao_miniapp", "tmall_item"):
        return bool(body.get("error_response", {}).get("code") == 31)  # docs/protocols.md, TOP
    if key == "doudian":
        return bool(body.get("sub_code") == "isv.timestamp-invalid")  # docs/protocols.md, Douyin
    if key == "qianmi_sku":
        return str(body.get("code")) == "33"  # docs/protocols.md, Qianmi
    return False  # vv-tool requests carry no timestamp


@each_platform
def test_every_timestamp_window_follows_the_clock(client: httpx.Client, key: str) -> None:
    # The targets stamp their requests from the real clock: years after FIXED_NOW.
    set_clock(client, FIXED_NOW)
    response = TARGETS[key].send(client, make_jpeg(color=(1, 1, 1)))
    assert _timestamp_refused(key, response) == (key != "taobao_picture"), response.text
    set_clock(client, None)
    TARGETS[key].ok(TARGETS[key].send(client, make_jpeg(color=(2, 2, 2))))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="no-reason"),
        pytest.param({"reason": "", "material_name": "a.jpg"}, id="empty-reason"),
        pytest.param({"reason": "x", "colour": "red"}, id="unknown-key"),
        pytest.param(["reason"], id="not-an-object"),
        pytest.param(
            {"reason": "x", "material_id": 74484998751869176420425},
            id="material-id-number",
        ),
        pytest.param(
            {"reason": "x", "material_name": "a.jpg", "at_upload": "false"},
            id="at-upload-string",
        ),
    ],
)
def test_invalid_audit_rules_are_refused(client: httpx.Client, body: Any) -> None:
    response = client.post("/_sandbox/audit", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]


def test_images_are_served_byte_for_byte(client: httpx.Client) -> None:
    jpeg, png = make_jpeg(70, 30), make_png(30, 70)
    for data, ctype in ((jpeg, "image/jpeg"), (png, "image/png")):
        url = TARGETS["doudian"].ok(_doudian(client, data))
        assert url.startswith(f"{client.base_url}".rstrip("/") + "/img/")
        served = client.get(url)
        assert served.status_code == 200
        assert served.headers["content-type"] == ctype
        assert served.content == data
    missing = client.get("/img/doudian/0000000000000000.jpg")
    assert missing.status_code == 404


# --- in-process mode --------------------------------------------------------------------------


def test_in_process_mode_serves_uploads_and_maps_drops() -> None:
    state = SandboxState()
    app = imgkit.sandbox.create_app(state)
    data = make_jpeg(19, 23)

    def build(name: str) -> httpx.Request:
        with httpx.Client(base_url="http://sandbox") as builder:
            return build_fw199_upload_request(builder, **FW199, material_name=name, file=data)

    async def scenario() -> None:
        transport = imgkit.sandbox.asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
            response = await client.send(build("a.jpg"))
            assert response.status_code == 200
            url = _doudian_url(response.json())
            assert url.startswith("http://sandbox/img/")
            assert (await client.get(url)).content == data

            faults = await client.post("/_sandbox/faults", json={"drop_before_store": 1.0})
            assert faults.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                await client.send(build("b.jpg"))
            assert state.stats()["doudian"]["stored"] == 1

            state.set_faults({"drop_after_store": 1.0})
            with pytest.raises(httpx.RemoteProtocolError):
                await client.send(build("c.jpg"))
            stats = (await client.get("/_sandbox/stats")).json()["doudian"]
            assert (stats["stored"], stats["duplicates"]) == (2, 1)
            assert stats["faults"] == {"drop_before_store": 1, "drop_after_store": 1}

    asyncio.run(scenario())
