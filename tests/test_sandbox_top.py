"""Sandbox: the Taobao Open Platform gateway at ``/router/rest``, over loopback HTTP.

What both TOP APIs share (``docs/protocols.md``, TOP): system parameters, the three sign
methods, timestamps (GMT+8 text or epoch ms, 10 minutes of skew), versions, apps, sessions,
limits and the error envelope.  The per-API tests are ``test_sandbox_tmall.py`` and
``test_sandbox_miniapp.py``; shared helpers are in ``top_support.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import pytest
import spec_clients
from spec_clients import GMT8, build_top_request, epoch_ms_now, gmt8_at, make_jpeg
from top_support import (
    APP_B,
    BAN,
    FIXED_NOW,
    GATEWAY,
    ITEM_B,
    MINIAPP_API,
    SECRET_B,
    TMALL_API,
    TMALL_ROOT,
    TMALL_SESSION_B,
    Api,
    body_of,
    call,
    control,
    error_of,
    fix_clock,
    item_img,
    model_of,
    succeeded,
)

from imgkit.sandbox import Sandbox

APIS = [TMALL_API, MINIAPP_API]
API_IDS = ["tmall", "miniapp"]


def gmt8_text(offset_s: float) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in GMT+8, ``offset_s`` away from now."""
    moment = datetime.now(UTC).astimezone(GMT8) + timedelta(seconds=offset_s)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def rejections(sandbox: Sandbox, platform: str) -> dict[str, int]:
    out: dict[str, int] = sandbox.stats()[platform]["rejections"]
    return out


def outlet_upload(client: httpx.Client) -> httpx.Response:
    """A good Tmall upload by the other app (21000002) to its own item."""
    return call(
        client,
        TMALL_API,
        make_jpeg(color=(4, 5, 6)),
        params={"num_iid": ITEM_B},
        app_key=APP_B,
        secret=SECRET_B,
        session=TMALL_SESSION_B,
    )


# --- method and format ------------------------------------------------------------------------


def test_unknown_method_is_refused_by_the_gateway(client: httpx.Client, sandbox: Sandbox) -> None:
    error_of(call(client, TMALL_API, method="taobao.item.img.delete.tmall"), 22)
    assert rejections(sandbox, GATEWAY) == {"22": 1}
    stats = sandbox.stats()
    assert stats["tmall_item"]["requests"] == stats["taobao_miniapp"]["requests"] == 0


def test_missing_method_is_refused_by_the_gateway(client: httpx.Client, sandbox: Sandbox) -> None:
    error_of(call(client, TMALL_API, extra={"method": None}), 21)
    assert rejections(sandbox, GATEWAY) == {"21": 1}
    assert sandbox.stats()["tmall_item"]["requests"] == 0


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
@pytest.mark.parametrize("value", ["xml", None, "JSON", " json", ""], ids=repr)
def test_a_request_not_asking_for_json_is_answered_in_xml(
    client: httpx.Client, sandbox: Sandbox, api: Api, value: str | None
) -> None:
    # TOP's default format is XML: a client that forgets format=json (or sends it in
    # another spelling) gets XML back and breaks here, as it would on the platform.
    response = call(client, api, extra={"format": value})
    assert response.headers["content-type"].startswith("text/xml"), response.text
    assert response.text.startswith('<?xml version="1.0" encoding="utf-8" ?><error_response>')
    error = error_of(response, 23)
    assert error["sub_code"] == "isv.invalid-format"
    assert sandbox.stats()[api.platform]["stored"] == 0


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_sign_method_is_required(client: httpx.Client, sandbox: Sandbox, api: Api) -> None:
    # The request is signed with md5, TOP's first method, but says nothing: no default.
    error = error_of(call(client, api, extra={"sign_method": None}), 40)
    assert error["sub_code"] == "isv.missing-parameter:sign_method"
    assert sandbox.stats()[api.platform]["stored"] == 0


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_simplify_true_drops_the_response_root(
    client: httpx.Client, sandbox: Sandbox, api: Api
) -> None:
    plain = body_of(call(client, api, make_jpeg(color=(1, 2, 3))))
    simple = body_of(call(client, api, make_jpeg(color=(3, 2, 1)), params={"simplify": "true"}))
    (root,) = plain
    assert root.endswith("_response")
    assert set(simple) == set(plain[root]), simple  # the members, without the root
    assert isinstance(simple["request_id"], str)
    assert sandbox.stats()[api.platform]["stored"] == 2


def test_simplify_keeps_error_response_and_reads_booleans_exactly(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    error_of(call(client, TMALL_API, params={"simplify": "true", "num_iid": "x"}), 41)
    error = error_of(call(client, TMALL_API, params={"simplify": "True"}), 41)
    assert error["sub_code"] == "isv.invalid-parameter:simplify"
    sandbox.state.set_settings({"boolean_case": "any"})
    assert TMALL_ROOT not in body_of(call(client, TMALL_API, params={"simplify": "True"}))


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_a_session_expired_on_demand_is_refused_like_an_expired_one(
    client: httpx.Client, sandbox: Sandbox, api: Api
) -> None:
    assert succeeded(call(client, api, make_jpeg(color=(9, 9, 1))))
    assert client.post("/_sandbox/expire", json={"credential": api.session}).status_code == 200
    expired = error_of(call(client, api, make_jpeg(color=(9, 9, 2))), 27)
    reference = error_of(call(client, api, session="sbx-session-expired"), 27)
    assert (expired["sub_code"], expired["msg"]) == (reference["sub_code"], reference["msg"])
    client.post("/_sandbox/reset")
    assert succeeded(call(client, api, make_jpeg(color=(9, 9, 3))))


def test_unparseable_body_is_a_parameter_error(client: httpx.Client, sandbox: Sandbox) -> None:
    response = client.post(
        "/router/rest",
        content=b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    error_of(response, 43)
    assert "43 isv.parameter-error" in rejections(sandbox, GATEWAY)


# --- signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
@pytest.mark.parametrize(
    "kwargs",
    [
        {"secret": "sbx-top-secret-b"},  # another app's secret
        {"secret": "wrong"},
        {"sign_method": "hmac", "extra": {"sign_method": "md5"}},  # HMAC sent as md5
        {"sign_method": "md5", "extra": {"sign_method": "hmac-sha256"}},
        {"extra": {"sign_method": "sha1"}},  # unknown sign_method
        {"extra": {"sign_method": "HMAC"}},
        {"extra": {"sign": "0" * 32}},
    ],
    ids=["other-secret", "wrong-secret", "hmac-as-md5", "md5-as-sha256", "sha1", "HMAC", "zeros"],
)
def test_bad_signatures_are_refused(
    client: httpx.Client, sandbox: Sandbox, api: Api, kwargs: dict[str, Any]
) -> None:
    error_of(call(client, api, **kwargs), 25)
    assert sandbox.stats()[api.platform]["stored"] == 0


def _tampered(request: httpx.Request, old: bytes, new: bytes) -> httpx.Request:
    """The same request with ``old`` replaced by ``new`` (same length) after signing."""
    assert len(old) == len(new)
    url = str(request.url)
    content = request.content
    if old in content:
        content = content.replace(old, new)
    else:
        assert old.decode() in url
        url = url.replace(old.decode(), new.decode())
    return httpx.Request("POST", url, content=content, headers=request.headers)


@pytest.mark.parametrize("style", ["sdk", "multipart"])
@pytest.mark.parametrize(
    ("old", "new"),
    [(b"1489161932", b"1489161941"), (b"sbx-session-tmall-1", b"sbx-session-tmall-x")],
    ids=["app-param", "system-param"],
)
def test_a_parameter_changed_after_signing_is_refused(
    client: httpx.Client,
    sandbox: Sandbox,
    style: Literal["sdk", "multipart"],
    old: bytes,
    new: bytes,
) -> None:
    request = build_top_request(
        client,
        method=TMALL_API.method,
        app_key="21000001",
        secret="sbx-top-secret-a",
        session="sbx-session-tmall-1",
        app_params={"num_iid": "1489161932"},
        files={"image": ("a.jpg", make_jpeg())},
        style=style,
    )
    request.read()
    error_of(client.send(_tampered(request, old, new)), 25)
    # The untouched request is fine: it is the change that breaks the signature.
    assert item_img(client.send(request))["id"] > 0
    assert sandbox.stats()["tmall_item"]["stored"] == 1


def test_a_parameter_added_after_signing_is_refused(client: httpx.Client) -> None:
    request = build_top_request(
        client,
        method=TMALL_API.method,
        app_key="21000001",
        secret="sbx-top-secret-a",
        session="sbx-session-tmall-1",
        app_params={"num_iid": "1489161932"},
        files={"image": ("a.jpg", make_jpeg())},
    )
    url = request.url.copy_add_param("position", "2")
    added = httpx.Request("POST", url, content=request.read(), headers=request.headers)
    error_of(client.send(added), 25)


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_missing_signature_is_24(client: httpx.Client, api: Api) -> None:
    error_of(call(client, api, extra={"sign": None}), 24)


def test_file_parts_are_not_signed(client: httpx.Client) -> None:
    # The signature is the same whatever the file holds: swap the bytes after signing.
    request = build_top_request(
        client,
        method=TMALL_API.method,
        app_key="21000001",
        secret="sbx-top-secret-a",
        session="sbx-session-tmall-1",
        app_params={"num_iid": "1489161932"},
        files={"image": ("a.jpg", make_jpeg(color=(1, 1, 1)))},
    )
    other = make_jpeg(color=(2, 2, 2))
    assert len(other) == len(make_jpeg(color=(1, 1, 1)))
    swapped = _tampered(request, make_jpeg(color=(1, 1, 1)), other)
    image = item_img(client.send(swapped))
    assert client.get(image["url"]).content == other


# --- timestamps -------------------------------------------------------------------------------


def fixed_stamp(form: str, offset_ms: int) -> str | int:
    """A timestamp ``offset_ms`` from ``FIXED_NOW``, as GMT+8 text (whole seconds) or epoch ms."""
    if form == "gmt8":
        assert offset_ms % 1000 == 0
        return gmt8_at(FIXED_NOW + offset_ms // 1000)
    return FIXED_NOW * 1000 + offset_ms


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
@pytest.mark.parametrize("form", ["gmt8", "epoch_ms"])
@pytest.mark.parametrize("offset_ms", [-600_000, -599_000, 0, 599_000, 600_000])
def test_ten_minutes_of_skew_is_accepted(
    client: httpx.Client, api: Api, form: str, offset_ms: int
) -> None:
    # On a fixed clock, so the edge itself (600 s, inclusive) is tested exactly.
    fix_clock(client, FIXED_NOW)
    assert succeeded(call(client, api, timestamp=fixed_stamp(form, offset_ms)))


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
@pytest.mark.parametrize(
    ("form", "offset_ms"),
    [
        ("gmt8", 601_000),
        ("gmt8", -601_000),
        ("epoch_ms", 601_000),
        ("epoch_ms", -601_000),
        ("epoch_ms", 600_001),  # a millisecond over is over
        ("epoch_ms", -600_001),
        ("gmt8", 3_600_000),
    ],
)
def test_more_than_ten_minutes_of_skew_is_refused(
    client: httpx.Client, sandbox: Sandbox, api: Api, form: str, offset_ms: int
) -> None:
    fix_clock(client, FIXED_NOW)
    error_of(call(client, api, timestamp=fixed_stamp(form, offset_ms)), 31)
    assert sandbox.stats()[api.platform]["stored"] == 0


@pytest.mark.parametrize("form", ["gmt8", "epoch_ms"])
@pytest.mark.parametrize("minutes", [5, -5])
def test_real_clock_window(client: httpx.Client, form: str, minutes: int) -> None:
    # No clock fixed: the real one.  Five minutes in, a margin no delay can cross.
    offset = minutes * 60
    stamp = gmt8_text(offset) if form == "gmt8" else epoch_ms_now() + offset * 1000
    assert succeeded(call(client, TMALL_API, timestamp=stamp))


def test_fixed_clock_is_what_the_timestamp_is_judged_by(client: httpx.Client) -> None:
    fix_clock(client, FIXED_NOW)
    error_of(call(client, TMALL_API, make_jpeg(color=(1, 2, 3))), 31)  # real time: years off
    fix_clock(client, None)
    assert succeeded(call(client, TMALL_API, make_jpeg(color=(1, 2, 3))))
    error_of(call(client, TMALL_API, timestamp=gmt8_at(FIXED_NOW)), 31)


def test_timestamp_is_read_as_gmt8_not_utc(client: httpx.Client) -> None:
    # The same wall-clock time in UTC is eight hours off Beijing time.
    fix_clock(client, FIXED_NOW)
    utc_text = datetime.fromtimestamp(FIXED_NOW, UTC).strftime("%Y-%m-%d %H:%M:%S")
    error_of(call(client, TMALL_API, timestamp=utc_text), 31)
    assert succeeded(call(client, TMALL_API, timestamp=gmt8_at(FIXED_NOW)))


@pytest.mark.parametrize("stamp", ["yesterday", "2024/01/01 12:00:00", "2024-01-01T12:00:00"])
def test_malformed_timestamp_is_refused(client: httpx.Client, stamp: str) -> None:
    error_of(call(client, TMALL_API, timestamp=stamp), 31)


def test_missing_timestamp_is_30(client: httpx.Client) -> None:
    error_of(call(client, TMALL_API, extra={"timestamp": None}), 30)


# --- version, app key, session ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("v", "code"), [(None, 32), ("abc", 33), ("2", 33), ("1.0", 34), ("3.0", 34)]
)
def test_version_must_be_2_0(client: httpx.Client, v: str | None, code: int) -> None:
    error_of(call(client, TMALL_API, extra={"v": v}), code)


def test_missing_and_unknown_app_keys(client: httpx.Client) -> None:
    error_of(call(client, TMALL_API, extra={"app_key": None}), 28)
    error_of(call(client, TMALL_API, app_key="29999999"), 29)


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
@pytest.mark.parametrize(
    "session",
    ["sbx-session-nobody", "sbx-session-expired", TMALL_SESSION_B],
    ids=["unknown", "expired", "other-apps"],
)
def test_invalid_sessions_are_27(client: httpx.Client, api: Api, session: str) -> None:
    error_of(call(client, api, session=session), 27)


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_missing_session_is_26(client: httpx.Client, api: Api) -> None:
    error_of(call(client, api, session=None), 26)


@pytest.mark.parametrize(
    ("session", "code"), [("sbx-session-userperm", 12), ("sbx-session-readonly", 13)]
)
def test_sessions_without_permission(client: httpx.Client, session: str, code: int) -> None:
    error_of(call(client, TMALL_API, session=session), code)


def test_app_without_the_tmall_api_is_11_but_may_call_the_mini_app(client: httpx.Client) -> None:
    noapi: dict[str, Any] = {"app_key": "21000003", "secret": "sbx-top-secret-noapi"}
    error_of(call(client, TMALL_API, session="sbx-session-noapi", **noapi), 11)
    # Its API package holds the mini-app method: the gateway lets it through (the mini-app
    # it names belongs to app 21000001, which the API itself then refuses).
    response = call(client, MINIAPP_API, session="sbx-session-noapi", **noapi)
    assert "error_response" not in response.json()


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_ip_whitelist_is_42(client: httpx.Client, api: Api) -> None:
    response = call(
        client, api, app_key="21000004", secret="sbx-top-secret-ip", session="sbx-session-ip"
    )
    error_of(response, 42)


# --- quota and rate limits --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("beijing", "left_s"), [("2024-01-01 12:00:00", 43200), ("2024-01-01 23:59:59", 1)]
)
def test_daily_quota_used_up_is_7_until_midnight_beijing(
    client: httpx.Client, beijing: str, left_s: int
) -> None:
    # On a fixed clock: the real one could cross midnight between the answer and the check.
    at = datetime.strptime(beijing, "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8).timestamp()
    fix_clock(client, at)
    response = call(
        client,
        TMALL_API,
        app_key="21000009",
        secret="sbx-top-secret-quota",
        session="sbx-session-quota",
        timestamp=beijing,
    )
    error = error_of(response, 7)
    assert error["sub_code"] == "accesscontrol.limited-by-app-access-count"
    match = BAN.search(error["sub_msg"])
    assert match, error
    assert int(match.group(1)) == left_s
    # Other apps still have their quota.
    fix_clock(client, None)
    assert item_img(outlet_upload(client))["id"] > 0


def test_per_app_qps_ban_and_recovery(client: httpx.Client, sandbox: Sandbox) -> None:
    control(client, "limits", {"top_app_qps": 2, "top_ban_s": 1})
    for n in range(2):
        assert item_img(call(client, TMALL_API, make_jpeg(color=(n, 0, 0))))["id"] > 0
    for _ in range(2):  # over the limit, then still banned
        error = error_of(call(client, TMALL_API, make_jpeg(color=(9, 0, 0))), 7)
        assert error["sub_code"] == "accesscontrol.limited-by-app-api-access-count"
        match = BAN.search(error["sub_msg"])
        assert match, error
        assert match.group(1) == "1"
    banned_at = time.monotonic()
    # The ban is the app's: another app goes on.
    assert item_img(outlet_upload(client))["id"] > 0
    time.sleep(max(0.0, 1.05 - (time.monotonic() - banned_at)))
    assert item_img(call(client, TMALL_API, make_jpeg(color=(7, 0, 0))))["id"] > 0
    label = "7 accesscontrol.limited-by-app-api-access-count"
    assert rejections(sandbox, "tmall_item") == {label: 2}
    assert sandbox.stats()["tmall_item"]["stored"] == 4


def test_per_app_qps_limit_holds_without_a_ban(client: httpx.Client) -> None:
    control(client, "limits", {"top_app_qps": 1, "top_ban_s": 0})
    assert succeeded(call(client, MINIAPP_API, make_jpeg(color=(1, 0, 0))))
    error = error_of(call(client, MINIAPP_API, make_jpeg(color=(2, 0, 0))), 7)
    assert error["sub_code"] == "accesscontrol.limited-by-app-api-access-count"
    match = BAN.search(error["sub_msg"])
    assert match, error
    assert int(match.group(1)) >= 1


def test_per_session_qps_is_8(client: httpx.Client, sandbox: Sandbox) -> None:
    control(client, "limits", {"top_session_qps": 1})
    assert succeeded(call(client, TMALL_API, make_jpeg(color=(1, 0, 0))))
    error_of(call(client, TMALL_API, make_jpeg(color=(2, 0, 0))), 8)
    # Another session of the same app has its own budget.
    assert model_of(call(client, MINIAPP_API))["pic_id"] > 0


def test_rate_limited_fault(client: httpx.Client, sandbox: Sandbox) -> None:
    control(client, "faults", {"rate_limited": 1.0, "platforms": ["tmall_item"]})
    error = error_of(call(client, TMALL_API), 7)
    assert error["sub_code"] == "accesscontrol.limited-by-api-access-count"
    assert "This ban will last for 1 more seconds" in error["sub_msg"]
    assert sandbox.stats()["tmall_item"]["faults"] == {"rate_limited": 1}
    # Only the named platform is faulted.
    assert succeeded(call(client, MINIAPP_API))
    control(client, "faults", {})
    assert succeeded(call(client, TMALL_API))


def test_transient_fault_is_15_isp(client: httpx.Client) -> None:
    sandbox_faults = {"transient": 1.0, "platforms": ["taobao_miniapp"]}
    control(client, "faults", sandbox_faults)
    error = error_of(call(client, MINIAPP_API), 15)
    assert error["sub_code"].startswith("isp.")


def test_forced_errors_count_down(client: httpx.Client, sandbox: Sandbox) -> None:
    force = [{"platform": "tmall_item", "error": "service_unavailable", "times": 2}]
    control(client, "faults", {"force": force})
    for _ in range(2):
        error_of(call(client, TMALL_API), 10)
    assert succeeded(call(client, TMALL_API))
    assert sandbox.stats()["tmall_item"]["faults"] == {"forced": 2}


def test_forcing_an_unknown_error_is_refused_by_the_control_endpoint(
    client: httpx.Client,
) -> None:
    response = client.post(
        "/_sandbox/faults", json={"force": [{"platform": "tmall_item", "error": "no_such"}]}
    )
    assert response.status_code == 400
    assert "no_such" in response.json()["error"]
    assert succeeded(call(client, TMALL_API))


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
@pytest.mark.parametrize(
    "spoil", [str.lower, lambda sign: f" {sign} "], ids=["lowercase-hex", "space-padded"]
)
def test_only_the_exact_uppercase_signature_is_accepted(
    client: httpx.Client,
    sandbox: Sandbox,
    api: Api,
    spoil: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The likeliest signer bug (hexdigest() without .upper()) fails here as on TOP."""
    right = spec_clients.top_sign
    monkeypatch.setattr(spec_clients, "top_sign", lambda *a, **k: spoil(right(*a, **k)))
    error_of(call(client, api), 25)
    assert sandbox.stats()[api.platform]["stored"] == 0
