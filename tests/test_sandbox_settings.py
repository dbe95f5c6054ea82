"""Sandbox settings and on-demand expiry, through the control endpoints over loopback HTTP.

The defaults are the strict readings; every lenient one is a setting a test turns on and
``reset`` turns off (docs/sandbox.md, "Settings and expiry").
"""

from __future__ import annotations

import httpx
import pytest
from top_support import TMALL_API, call, error_of, succeeded

from imgkit.sandbox import Sandbox


def settings(client: httpx.Client) -> dict[str, object]:
    answer = client.get("/_sandbox/settings")
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_the_defaults_are_strict(client: httpx.Client) -> None:
    assert settings(client) == {"boolean_case": "exact", "shapes": {}, "expired": 0}


@pytest.mark.parametrize(
    "body",
    [
        {"boolean_case": "loose"},
        {"boolean": "any"},
        {"shapes": {"nowhere": "flat"}},
        {"shapes": {"tmall_item": "no-such-shape"}},
        {"shapes": ["doudian"]},
    ],
    ids=repr,
)
def test_bad_settings_are_refused_and_change_nothing(
    client: httpx.Client, body: dict[str, object]
) -> None:
    assert client.post("/_sandbox/settings", json={"boolean_case": "any"}).status_code == 200
    answer = client.post("/_sandbox/settings", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]
    assert settings(client)["boolean_case"] == "any"


def test_boolean_case_any_accepts_other_spellings_until_reset(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    error = error_of(call(client, TMALL_API, params={"is_rectangle": "FALSE"}), 41)
    assert error["sub_code"] == "isv.invalid-parameter:is_rectangle"
    assert client.post("/_sandbox/settings", json={"boolean_case": "any"}).status_code == 200
    assert succeeded(call(client, TMALL_API, params={"is_rectangle": "FALSE"}))
    assert client.post("/_sandbox/reset").status_code == 200
    error_of(call(client, TMALL_API, params={"is_rectangle": "FALSE"}), 41)
    assert sandbox.stats()["tmall_item"]["stored"] == 0  # reset also forgot the upload above


@pytest.mark.parametrize(
    "body", [{}, {"credential": ""}, {"credential": 7}, {"credential": "a", "more": 1}], ids=repr
)
def test_expire_needs_one_credential(client: httpx.Client, body: dict[str, object]) -> None:
    answer = client.post("/_sandbox/expire", json=body)
    assert answer.status_code == 400, answer.text
    assert settings(client)["expired"] == 0


def test_expire_does_not_echo_the_credential_and_reset_forgets_it(client: httpx.Client) -> None:
    secret_like = "sbx-session-tmall-1"
    answer = client.post("/_sandbox/expire", json={"credential": secret_like})
    assert answer.status_code == 200
    assert secret_like not in answer.text
    assert secret_like not in client.get("/_sandbox/settings").text
    assert settings(client)["expired"] == 1
    error_of(call(client, TMALL_API), 27)
    client.post("/_sandbox/reset")
    assert settings(client)["expired"] == 0
    assert succeeded(call(client, TMALL_API))
