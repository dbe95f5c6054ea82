"""imgkit.platforms.forms: bodies and queries laid out exactly as httpx lays them out.

The adapters build their upload requests here instead of through httpx's ``files=`` and
``params=`` (which cost more CPU than signing); the bytes on the wire must not change.
"""

from __future__ import annotations

import base64
import random
from urllib.parse import quote_plus, urlencode

import httpx
import pytest

from imgkit.platforms import forms

BASE = httpx.URL("http://127.0.0.1:8765/router/rest")
QUERIES = [
    {"method": "taobao.miniapp.tradeimage.upload", "timestamp": "2026-12-03 15:00:00"},
    {"sign": "AB/=+cd", "name": "图片 一", "empty": "", "odd": "a&b=c#d?e%f~g"},
    {},
]
NAMES = ["plain.jpg", "图片 一.png", 'quo"te.jpg', "back\\slash.jpg", "tab\tnew\nline.gif", ""]


@pytest.mark.parametrize("params", QUERIES)
def test_with_query_gives_the_url_params_would(params: dict[str, str]) -> None:
    fast = forms.with_query(BASE, params)
    slow = httpx.Request("POST", BASE, params=params).url
    assert fast == slow
    assert (fast.raw_path, str(fast), fast.params) == (slow.raw_path, str(slow), slow.params)
    merged = forms.with_query(httpx.URL("http://x.test/a?keep=1"), params)
    assert merged == httpx.URL("http://x.test/a?keep=1").copy_merge_params(params)


@pytest.mark.parametrize("filename", NAMES)
def test_multipart_is_byte_for_byte_httpx(filename: str) -> None:
    fields = {"miniapp_id": "3000000012345", "title": '春季 新品 "双引号"', "x\\y": "v"}
    files = {"img": (filename, b"\xff\xd8JPEG\r\n--not-a-boundary", "image/jpeg")}
    body, content_type = forms.multipart(fields, files)
    boundary = content_type.split("boundary=", 1)[1].encode()
    theirs = httpx.Request(
        "POST",
        BASE,
        data=fields,
        files=files,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"},
    )
    assert body == theirs.read()
    ours = forms.request(BASE, fields, files, {"Authorization": "Bearer t"})
    assert dict(ours.headers) | {"content-type": ""} == dict(theirs.headers) | {
        "content-type": "",
        "authorization": "Bearer t",
    }


def test_text_fields_alone_make_a_multipart_body_too() -> None:
    body, content_type = forms.multipart({"miniapp_id": "1"})
    boundary = content_type.split("boundary=", 1)[1]
    assert (
        body
        == (
            f'--{boundary}\r\nContent-Disposition: form-data; name="miniapp_id"\r\n\r\n1\r\n'
            f"--{boundary}--\r\n"
        ).encode()
    )
    assert forms.multipart({})[0] != forms.multipart({})[0]  # a fresh random boundary


def _values() -> list[str]:
    """Short and long values over every ASCII character, and some that are not ASCII."""
    rng = random.Random(15)
    ascii_values = [
        "".join(chr(rng.randrange(128)) for _ in range(rng.randrange(200))) for _ in range(400)
    ]
    long_b64 = base64.b64encode(rng.randbytes(15000)).decode()
    extra = [long_b64, long_b64 + " %+ ", "图片 一" * 30, "a\udcff", "", " ", "%" * 70]
    return [*ascii_values, *extra]


def test_quote_is_quote_plus() -> None:
    for value in _values():
        try:
            expected = quote_plus(value)
        except UnicodeEncodeError:
            with pytest.raises(UnicodeEncodeError):
                forms.quote(value)
            continue
        assert forms.quote(value) == expected, value


@pytest.mark.parametrize(
    "fields", [*QUERIES, {"image": base64.b64encode(bytes(range(256)) * 40).decode()}]
)
def test_form_is_byte_for_byte_httpx(fields: dict[str, str]) -> None:
    ours = forms.form(BASE, fields, {"Authorization": "Bearer t"})
    theirs = httpx.Request("POST", BASE, data=fields, headers={"Authorization": "Bearer t"})
    assert ours.read() == theirs.read()
    assert list(ours.headers.raw) == list(theirs.headers.raw)
    assert forms.urlencoded(fields) == urlencode(fields)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer t"}, {"Host": "other.test"}])
def test_a_post_is_the_request_content_would_make(headers: dict[str, str]) -> None:
    # forms builds its requests around httpx's content= handling: the same headers, in
    # the same order, the same body, readable again (a retry sends it once more).
    fields = {"miniapp_id": "3000000012345"}
    files = {"img": ("a.jpg", b"\xff\xd8JPEG", "image/jpeg")}
    ours = forms.request(BASE, fields, files, headers)
    theirs = httpx.Request(
        "POST",
        BASE,
        content=ours.content,
        headers={**headers, "Content-Type": ours.headers["content-type"]},
    )
    assert list(ours.headers.raw) == list(theirs.headers.raw)
    assert (ours.method, ours.url, ours.content) == (theirs.method, theirs.url, theirs.content)
    assert ours.read() == b"".join(ours.stream) == theirs.read()  # type: ignore[arg-type]
