"""Sandbox: how every platform reads a request's parameters, over loopback HTTP.

The platforms' gateways are Java servlets: the first value of a repeated parameter wins
(the query string before the body), and text is UTF-8. A client that repeats a parameter
or sends GBK text must meet what it would meet on the platform (docs/sandbox.md,
conventions), not a friendlier Python reading.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import httpx
import pytest
import spec_clients
from spec_clients import (
    TOP_PATH,
    VV_UPLOAD_PATH,
    gmt8_now,
    make_jpeg,
    top_sign,
)

from imgkit.sandbox import Sandbox

VV_TOKEN = "sbx-vv-token-1"
GBK = "测试标题".encode("gbk")  # not UTF-8: 0xb2 0xe2 ... is no valid UTF-8 sequence
MARK = "MARKTITLE"


def multipart(
    items: Sequence[tuple[str, str]], files: Sequence[tuple[str, str, bytes]]
) -> tuple[bytes, str]:
    """A form-data body keeping every repeat, in order: ``(body, content-type)``."""
    b = f"----wire{uuid.uuid4().hex}"
    out = b""
    for name, value in items:
        out += f'--{b}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, filename, data in files:
        out += f'--{b}\r\nContent-Disposition: form-data; name="{name}"; '.encode()
        out += f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
        out += data + b"\r\n"
    return out + f"--{b}--\r\n".encode(), f"multipart/form-data; boundary={b}"


def vv_post(client: httpx.Client, body: bytes, ctype: str, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {VV_TOKEN}", "Content-Type": ctype}
    return client.post(VV_UPLOAD_PATH, content=body, headers=headers, params=params)


def vv_items(shop: str, title: str = "wire") -> list[tuple[str, str]]:
    return [
        ("shop_id", shop),
        ("picture_category_id", "0"),
        ("image_input_title", "wire.jpg"),
        ("title", title),
        ("vvtype", "2"),
    ]


# --- the first value wins ----------------------------------------------------------------


def test_a_repeated_body_parameter_is_read_by_its_first_value(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    # The second shop_id names a shop the sandbox does not know (103): the first wins.
    items = [*vv_items("sbx_tb_shop_1"), ("shop_id", "sbx_tb_shop_nowhere")]
    body, ctype = multipart(items, [("img", "wire.jpg", make_jpeg(color=(1, 1, 1)))])
    answer = vv_post(client, body, ctype).json()
    assert answer["code"] == 0, answer
    assert sandbox.stats()["taobao_picture"]["stored"] == 1


def test_the_query_string_comes_before_the_body(client: httpx.Client, sandbox: Sandbox) -> None:
    items = vv_items("sbx_tb_shop_nowhere")
    body, ctype = multipart(items, [("img", "wire.jpg", make_jpeg(color=(2, 1, 1)))])
    answer = vv_post(client, body, ctype, shop_id="sbx_tb_shop_1").json()
    assert answer["code"] == 0, answer
    # And the other way round: the unknown shop in the query wins over the good one.
    body, ctype = multipart(vv_items("sbx_tb_shop_1"), [("img", "w.jpg", make_jpeg())])
    assert vv_post(client, body, ctype, shop_id="sbx_tb_shop_nowhere").json()["code"] == 103


def test_a_top_signature_covers_the_first_value_of_a_repeat(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    # Signed over the first num_iid (the seller's own item); the repeat names another
    # seller's item. Read as the gateway reads it, the signature holds and item 1 is used.
    params = {
        "method": "taobao.item.img.upload.tmall",
        "app_key": "21000001",
        "session": "sbx-session-tmall-1",
        "timestamp": gmt8_now(),
        "v": "2.0",
        "format": "json",
        "sign_method": "md5",
        "num_iid": "1489161940",
    }
    params["sign"] = top_sign(params, "sbx-top-secret-a")
    items = [*params.items(), ("num_iid", "1489162001")]
    body, ctype = multipart(items, [("image", "a.jpg", make_jpeg(color=(3, 1, 1)))])
    answer = client.post(TOP_PATH, content=body, headers={"Content-Type": ctype}).json()
    assert "item_img_upload_tmall_response" in answer, answer
    assert sandbox.stats()["tmall_item"]["stored"] == 1


def test_a_repeated_file_part_is_read_by_its_first_part(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    first, second = make_jpeg(color=(4, 1, 1)), b"not an image"
    body, ctype = multipart(
        vv_items("sbx_tb_shop_1"), [("img", "a.jpg", first), ("img", "b.jpg", second)]
    )
    answer = vv_post(client, body, ctype).json()
    assert answer["code"] == 0, answer
    url = answer["data"]["picture_upload_response"]["picture"]["picture_path"]
    assert client.get(url).content == first


# --- text is UTF-8 -----------------------------------------------------------------------


def _patched(request: httpx.Request, old: bytes, new: bytes) -> httpx.Request:
    body = request.read()
    assert body.count(old) == 1, "the marker must occur once in the body"
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return httpx.Request(
        request.method, request.url, content=body.replace(old, new), headers=headers
    )


def _vv(client: httpx.Client) -> httpx.Request:
    return spec_clients.build_vv_upload_request(
        client,
        token=VV_TOKEN,
        shop_id="sbx_tb_shop_1",
        img=make_jpeg(),
        filename="a.jpg",
        title=MARK,
    )


def _top(client: httpx.Client) -> httpx.Request:
    return spec_clients.build_top_request(
        client,
        method="taobao.miniapp.trade.picture.upload",
        app_key="21000001",
        secret="sbx-top-secret-a",
        session="sbx-session-miniapp-1",
        app_params={"miniapp_id": "3000000012345", "file_name": MARK},
        files={"bytes": ("a.jpg", make_jpeg())},
    )


def _fw199(client: httpx.Client) -> httpx.Request:
    return spec_clients.build_fw199_upload_request(
        client,
        appid="sbx-fw199-app",
        secret="sbx-fw199-secret",
        seller_nick="38173182",
        material_name=MARK,
        file=make_jpeg(),
        filename="a.jpg",
    )


def _qianmi(client: httpx.Client) -> httpx.Request:
    return spec_clients.build_qianmi_upload_request(
        client,
        app_key="10009001",
        secret="sbx-qianmi-secret",
        access_token="sbx-qm-token-1",
        num_iid="18353",
        sku_id="g1234",
        image_bytes=make_jpeg(),
        fields=MARK,
    )


# (platform, request builder, GBK as it goes on the wire, the malformed-body answer)
CASES: list[tuple[str, Callable[[httpx.Client], httpx.Request], bytes, tuple[int, str]]] = [
    ("taobao_picture", _vv, GBK, (100, "请求参数错误:请求体无法解析")),
    ("taobao_miniapp", _top, GBK, (43, "isv.parameter-error")),
    ("doudian", _fw199, GBK, (40004, "isv.parameter-invalid:body")),
    (
        "qianmi_sku",
        _qianmi,
        b"".join(b"%%%02X" % c for c in GBK),
        (33, "isv.invalid-paramete:body"),
    ),
]


def _code_and_detail(answer: dict[str, object]) -> tuple[int, str]:
    error = answer.get("error_response", answer)
    assert isinstance(error, dict), answer
    code = int(str(error["code"]))
    subs = error.get("subErrors")
    if isinstance(subs, dict):  # Qianmi's own shape
        return code, str(subs["subError"][0]["code"])
    return code, str(error.get("sub_code") or error.get("msg") or error.get("message"))


@pytest.mark.parametrize(
    ("platform", "build", "wire", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_text_that_is_not_utf8_is_a_malformed_body(
    client: httpx.Client,
    sandbox: Sandbox,
    platform: str,
    build: Callable[[httpx.Client], httpx.Request],
    wire: bytes,
    expected: tuple[int, str],
) -> None:
    good = build(client)
    request = _patched(good, MARK.encode(), wire)
    answer = client.send(request).json()
    assert _code_and_detail(answer) == expected, answer
    assert sandbox.stats()[platform]["stored"] == 0


def test_a_query_string_that_is_not_utf8_is_a_malformed_request(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    good = _top(client)
    url = str(good.url) + "&partner_id=%B2%E2"
    headers = {k: v for k, v in good.headers.items() if k.lower() != "content-length"}
    answer = client.send(httpx.Request("POST", url, content=good.read(), headers=headers)).json()
    assert answer["error_response"]["code"] == 43, answer
    assert sandbox.stats()["taobao_miniapp"]["stored"] == 0


def test_utf8_text_is_read_as_sent(client: httpx.Client, sandbox: Sandbox) -> None:
    # The control: the same request with UTF-8 Chinese goes through, the title intact.
    request = _patched(_vv(client), MARK.encode(), "测试标题".encode())
    answer = client.send(request).json()
    assert answer["code"] == 0, answer
    assert answer["data"]["picture_upload_response"]["picture"]["title"] == "测试标题"


# --- another method than POST ------------------------------------------------------------

# (path, platform counted, the platform's own refusal: code and sub-code or message)
METHOD_CASES = [
    ("/router/rest?format=json", "top_gateway", (9, "isv.http-action-not-allowed")),
    ("/tool/erps/tbpicture", "taobao_picture", (203, "暂不支持当前接口")),
    ("/api/proxy/oauth/token", "taobao_picture", (203, "暂不支持当前接口")),
    (
        "/gateway/dd/material/uploadimagesync",
        "doudian",
        (40004, "isv.parameter-invalid:http_method"),
    ),
    ("/api", "qianmi_sku", (5, "HTTP方法被禁止")),
]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize(
    ("path", "platform", "expected"), METHOD_CASES, ids=[c[0] for c in METHOD_CASES]
)
def test_another_method_than_post_is_answered_in_the_platforms_envelope(
    client: httpx.Client,
    sandbox: Sandbox,
    method: str,
    path: str,
    platform: str,
    expected: tuple[int, str],
) -> None:
    answer = client.request(method, path)
    assert answer.status_code == 200, answer.text  # as the platforms answer their errors
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    assert _code_and_detail(answer.json()) == expected, answer.text
    assert sandbox.stats()[platform]["requests"] == 1


def test_a_get_without_format_json_is_refused_in_xml_by_top(client: httpx.Client) -> None:
    answer = client.get("/router/rest", params={"method": "taobao.item.seller.get"})
    assert answer.headers["content-type"].startswith("text/xml"), answer.text
    assert "<code>9</code>" in answer.text
