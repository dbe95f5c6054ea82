"""The sandbox's verifiers reproduce every signature test vector of platforms.md."""

from __future__ import annotations

import pytest

from imgkit.sandbox.signing import fw199_sign, qianmi_sign, top_sign
from imgkit.sandbox.timestamps import parse_gmt8, parse_top_timestamp, parse_unix_seconds

SIMPLE = {"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}
TMALL = {
    "app_key": "12345678",
    "format": "json",
    "is_major": "true",
    "method": "taobao.item.img.upload.tmall",
    "num_iid": "1001",
    "session": "sess",
    "sign_method": "md5",
    "timestamp": "2024-01-01 12:00:00",
    "v": "2.0",
}
FW199 = {
    "appid": "testappid",
    "folder_id": "0",
    "material_name": "a.jpg",
    "need_distinct": "false",
    "seller_nick": "38173182",
    "timestamp": "1700000000",
    "url": "https://example.com/a.jpg",
}
QIANMI = {
    "access_token": "tok",
    "appKey": "10001234",
    "fields": "id,url,position,created",
    "format": "json",
    "method": "qianmi.cloudshop.sku.image.upload",
    "num_iid": "g1",
    "position": "0",
    "sku_id": "s1",
    "timestamp": "2024-01-01 12:00:00",
    "v": "1.1",
    "image": "jpg@AAAA",
}


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("md5", "5AAF1C690262A24768F5478B084C2C8A"),
        ("hmac", "E687005F819D6F9E6ED085311C8ACC75"),
        ("hmac-sha256", "339676BF36C50A8BD3D8F6B4A81B2F9AA614B05BFCFEBEFC169CB830D6B77D3B"),
    ],
)
def test_top_vectors(method: str, expected: str) -> None:
    assert top_sign(SIMPLE, "helloworld", method) == expected


def test_top_tmall_vector_with_sign_and_empty_values_ignored() -> None:
    params = {**TMALL, "sign": "X", "position": ""}
    assert top_sign(params, "testsecret", "md5") == "A3A427BF0E85CB00589F251876F844B3"


def test_fw199_vector_and_empty_values_count() -> None:
    assert fw199_sign({**FW199, "sign": "x"}, "testsecret") == "ea356406a02fb73188e45cf0c445b2ec"
    assert fw199_sign({**FW199, "extra": ""}, "testsecret") != fw199_sign(FW199, "testsecret")


def test_qianmi_vector_excludes_image_file_logo_and_empty_values() -> None:
    params = {**QIANMI, "file": "x", "logo": "y", "img_id": ""}
    assert qianmi_sign(params, "testsecret") == "6EDA89AC820C4B8F0D3671DAA06E26F73031A04B"


def test_unknown_top_sign_method_is_refused() -> None:
    with pytest.raises(ValueError, match="sign_method"):
        top_sign(SIMPLE, "s", "sha1")


def test_timestamp_forms() -> None:
    assert parse_gmt8("2024-01-01 12:00:00") == 1704081600.0
    assert parse_top_timestamp("1704081600000") == 1704081600.0
    assert parse_top_timestamp("2024-01-01T12:00:00") is None
    assert parse_unix_seconds("1700000000") == 1700000000.0
    assert parse_unix_seconds("1700000000000") is None
    assert parse_unix_seconds("-5") is None
