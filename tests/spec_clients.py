"""Independent, spec-only request builders for the five upload APIs and the look-ups.

Everything here is written from ``docs/protocols.md`` and ``docs/lookups.md``
alone; it shares no code with ``imgkit`` or its sandbox, so a sandbox test built on it
checks the sandbox against the written protocol rather than against itself.

Conventions shared by every builder
-----------------------------------
* ``build_*_request(client, ...)`` returns an unsent :class:`httpx.Request` (made with
  ``client.build_request`` so the client's ``base_url`` applies); its sending twin takes
  the same arguments and returns the :class:`httpx.Response`: ``top_call``, ``vv_token``,
  ``vv_upload``, ``fw199_upload``, ``fw199_detail``, ``qianmi_upload``, and the look-ups
  ``tmall_lookup``, ``miniapp_lookup``, ``vv_lookup``, ``qianmi_lookup``.
* ``extra``: text parameters to add or override (``None`` as a value removes that
  parameter).  It is applied *before* signing, so the signature stays valid for the
  parameters actually sent - except for the key ``sign`` itself, which replaces (or, with
  ``None``, removes) the computed signature afterwards.
* ``secret`` is only used for signing: pass a wrong one to get a bad signature.
* ``timestamp`` overrides the generated one verbatim (``str`` or ``int``).
* Booleans are sent as ``true`` / ``false``; ``None`` parameters are not sent.

Example
-------
>>> with httpx.Client(base_url="http://sandbox.test") as c:
...     req = build_top_request(c, method="taobao.item.img.upload.tmall", app_key="1",
...                             secret="s", session="x", app_params={"num_iid": 1},
...                             files={"image": ("a.jpg", b"...")})
>>> req.url.params["v"]
'2.0'
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import inspect
import io
import mimetypes
import random
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Concatenate, Literal, ParamSpec

import httpx
from PIL import Image

Extra = Mapping[str, str | None] | None
Value = str | int | bool | None
P = ParamSpec("P")
FileSpec = tuple[str, bytes] | tuple[str, bytes, str]  # (filename, content[, content type])

GMT8 = timezone(timedelta(hours=8), "GMT+8")
TOP_PATH = "/router/rest"
VV_TOKEN_PATH = "/api/proxy/oauth/token"
VV_UPLOAD_PATH = "/tool/erps/tbpicture"
VV_LOOKUP_PATH = "/tool/erps/tbpicture/get"  # lookups.md: a [choice] path
FW199_UPLOAD_PATH = "/gateway/dd/material/uploadimagesync"
FW199_DETAIL_PATH = "/gateway/dd/material/querymaterialdetail"
QIANMI_PATH = "/api"
QIANMI_METHOD = "qianmi.cloudshop.sku.image.upload"
QIANMI_LOOKUP_METHOD = "qianmi.cloudshop.sku.images.get"
TMALL_LOOKUP_METHOD = "taobao.item.seller.get"
MINIAPP_LOOKUP_METHOD = "taobao.miniapp.trade.picture.get"

#: Names that travel in the query string in the TOP SDK style.
TOP_SYSTEM_PARAMS = frozenset(
    {
        "method",
        "app_key",
        "session",
        "timestamp",
        "v",
        "format",
        "sign_method",
        "sign",
        "partner_id",
        "simplify",
    }
)
#: Names that travel in the query string for Qianmi (everything else goes in the body).
QIANMI_SYSTEM_PARAMS = frozenset(
    {"method", "v", "appKey", "timestamp", "format", "access_token", "sign"}
)
QIANMI_UNSIGNED = frozenset({"sign", "file", "image", "logo"})


# --- timestamps ---------------------------------------------------------------------------


def gmt8_now() -> str:
    """Current time as ``yyyy-MM-dd HH:mm:ss`` in GMT+8, whatever the local zone."""
    return datetime.now(UTC).astimezone(GMT8).strftime("%Y-%m-%d %H:%M:%S")


def gmt8_at(epoch_s: float) -> str:
    """An instant as ``yyyy-MM-dd HH:mm:ss`` in GMT+8 (fractions of a second cut off).

    >>> gmt8_at(1704081600)
    '2024-01-01 12:00:00'
    """
    return datetime.fromtimestamp(epoch_s, GMT8).strftime("%Y-%m-%d %H:%M:%S")


def epoch_ms_now() -> int:
    """Current time in epoch milliseconds (what the official TOP Python SDK sends)."""
    return time.time_ns() // 1_000_000


def unix_now() -> int:
    """Current time in Unix seconds (fw199)."""
    return int(time.time())


# --- signers ------------------------------------------------------------------------------


def _concat(params: Mapping[str, str], skip: frozenset[str], keep_empty: bool) -> str:
    names = sorted(
        (k for k, v in params.items() if k not in skip and (keep_empty or v != "")),
        key=lambda k: k.encode("utf-8"),
    )
    return "".join(k + params[k] for k in names)


def top_sign(params: Mapping[str, str], secret: str, sign_method: str = "md5") -> str:
    """TOP signature: all text params except ``sign`` and empty values, byte-sorted.

    ``md5``: MD5(secret + s + secret); ``hmac``: HMAC-MD5; ``hmac-sha256``: HMAC-SHA256;
    uppercase hex.  File parameters must simply not be in ``params``.
    """
    s = _concat(params, frozenset({"sign"}), keep_empty=False).encode("utf-8")
    key = secret.encode("utf-8")
    if sign_method == "md5":
        return hashlib.md5(key + s + key).hexdigest().upper()
    if sign_method == "hmac":
        return hmac.new(key, s, hashlib.md5).hexdigest().upper()
    if sign_method == "hmac-sha256":
        return hmac.new(key, s, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown TOP sign_method {sign_method!r}")


def fw199_sign(params: Mapping[str, str], secret: str) -> str:
    """fw199 signature: every text param but ``sign`` (empty ones too), lowercase MD5."""
    s = secret + _concat(params, frozenset({"sign"}), keep_empty=True) + secret
    return hashlib.md5(s.encode("utf-8")).hexdigest()


def qianmi_sign(params: Mapping[str, str], secret: str) -> str:
    """Qianmi signature: skip ``sign``/``file``/``image``/``logo`` and empty values; SHA-1."""
    s = secret + _concat(params, QIANMI_UNSIGNED, keep_empty=False) + secret
    return hashlib.sha1(s.encode("utf-8")).hexdigest().upper()


# --- shared plumbing ----------------------------------------------------------------------


def _text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _clean(params: Mapping[str, Value]) -> dict[str, str]:
    return {k: _text(v) for k, v in params.items() if v is not None}


def _apply_extra(params: dict[str, str], extra: Extra) -> dict[str, str]:
    """Apply ``extra`` (all keys but ``sign``) to ``params``; ``None`` removes."""
    out = dict(params)
    for key, value in (extra or {}).items():
        if key == "sign":
            continue
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _with_sign(params: dict[str, str], sign: str, extra: Extra) -> dict[str, str]:
    """Add the computed ``sign`` unless ``extra`` overrides or removes it."""
    out = dict(params)
    if extra is not None and "sign" in extra:
        override = extra["sign"]
        if override is not None:
            out["sign"] = override
    else:
        out["sign"] = sign
    return out


def _file_tuple(spec: FileSpec) -> tuple[str, bytes, str]:
    if len(spec) == 3:
        return spec
    name, content = spec
    return name, content, mimetypes.guess_type(name)[0] or "application/octet-stream"


def encode_multipart(
    fields: Mapping[str, str],
    files: Mapping[str, FileSpec],
    *,
    file_disposition: str = "form-data",
    text_content_type: str | None = None,
    boundary: str | None = None,
) -> tuple[bytes, str]:
    """Hand-built multipart body; returns ``(body, content_type_header)``.

    Names and filenames are written raw (UTF-8) inside quotes, never as RFC 2231
    ``filename*``.  ``file_disposition="file"`` with ``text_content_type=
    "text/plain; charset=UTF-8"`` reproduces the official TOP Python SDK.
    """
    b = boundary or f"----spec{uuid.uuid4().hex}"
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{b}\r\nContent-Disposition: form-data; name="{name}"\r\n'.encode())
        if text_content_type:
            out.write(f"Content-Type: {text_content_type}\r\n".encode())
        out.write(b"\r\n" + value.encode("utf-8") + b"\r\n")
    for name, spec in files.items():
        filename, content, ctype = _file_tuple(spec)
        head = f'--{b}\r\nContent-Disposition: {file_disposition}; name="{name}"; '
        head += f'filename="{filename}"\r\nContent-Type: {ctype}\r\n'
        if file_disposition == "file":
            head += "Content-Transfer-Encoding: binary\r\n"
        out.write(head.encode("utf-8") + b"\r\n" + content + b"\r\n")
    out.write(f"--{b}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={b}"


def _multipart_request(
    client: httpx.Client,
    url: str,
    fields: Mapping[str, str],
    files: Mapping[str, FileSpec],
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Request:
    """Ordinary form-data multipart; httpx encodes it unless there is no file part
    (httpx would fall back to urlencoded then, so the body is built by hand)."""
    hdrs = dict(headers or {})
    if files:
        return client.build_request(
            "POST",
            url,
            params=params,
            headers=hdrs,
            data=dict(fields),
            files={k: _file_tuple(v) for k, v in files.items()},
        )
    body, ctype = encode_multipart(fields, {})
    hdrs["Content-Type"] = ctype
    return client.build_request("POST", url, params=params, headers=hdrs, content=body)


def _sender(
    build: Callable[Concatenate[httpx.Client, P], httpx.Request], name: str
) -> Callable[Concatenate[httpx.Client, P], httpx.Response]:
    """Make ``name(client, **same kwargs)`` that builds with ``build`` and sends."""

    @functools.wraps(build)
    def send(client: httpx.Client, /, *args: P.args, **kwargs: P.kwargs) -> httpx.Response:
        return client.send(build(client, *args, **kwargs))

    send.__name__ = send.__qualname__ = name
    sig = inspect.signature(build)
    send.__signature__ = sig.replace(return_annotation="httpx.Response")  # type: ignore[attr-defined]
    send.__doc__ = f"Send :func:`{build.__name__}` (same arguments); return the response."
    return send


def _ts(timestamp: str | int | None, default: str | int) -> str:
    return str(default if timestamp is None else timestamp)


# --- 1. TOP (taobao_miniapp, tmall_item) --------------------------------------------------


def build_top_request(
    client: httpx.Client,
    *,
    method: str,
    app_key: str,
    secret: str,
    session: str | None,
    app_params: Mapping[str, Value] | None = None,
    files: Mapping[str, FileSpec] | None = None,
    sign_method: str = "md5",
    style: Literal["sdk", "multipart"] = "sdk",
    timestamp: str | int | None = None,
    extra: Extra = None,
) -> httpx.Request:
    """``POST /router/rest``.

    ``style="sdk"``: system params in the query string; app params and files in a
    hand-built multipart body whose file parts say ``Content-Disposition: file``.
    ``style="multipart"``: every parameter as an ordinary form-data field.
    ``sign_method`` is both the algorithm used and the value sent (override the sent
    value with ``extra={"sign_method": ...}``).  Default timestamp: GMT+8 text; pass
    ``timestamp=epoch_ms_now()`` for the SDK's milliseconds.
    """
    params = _clean(
        {
            "method": method,
            "app_key": app_key,
            "session": session,
            "timestamp": _ts(timestamp, gmt8_now()),
            "v": "2.0",
            "format": "json",
            "sign_method": sign_method,
        }
    )
    params.update(_clean(app_params or {}))
    params = _apply_extra(params, extra)
    params = _with_sign(params, top_sign(params, secret, sign_method), extra)
    files = files or {}
    if style == "multipart":
        return _multipart_request(client, TOP_PATH, params, files)
    if style != "sdk":
        raise ValueError(f"unknown style {style!r}")
    query = {k: v for k, v in params.items() if k in TOP_SYSTEM_PARAMS}
    body_fields = {k: v for k, v in params.items() if k not in TOP_SYSTEM_PARAMS}
    body, ctype = encode_multipart(
        body_fields,
        files,
        file_disposition="file",
        text_content_type="text/plain; charset=UTF-8",
    )
    return client.build_request(
        "POST", TOP_PATH, params=query, content=body, headers={"Content-Type": ctype}
    )


top_call = _sender(build_top_request, "top_call")


def build_tmall_lookup_request(
    client: httpx.Client,
    *,
    app_key: str,
    secret: str,
    session: str | None,
    num_iid: str | int | None,
    fields: str | None = "num_iid,item_img",
    sign_method: str = "md5",
    style: Literal["sdk", "multipart"] = "sdk",
    timestamp: str | int | None = None,
    extra: Extra = None,
) -> httpx.Request:
    """lookups.md: ``taobao.item.seller.get`` with ``num_iid`` and ``fields``, no file."""
    return build_top_request(
        client,
        method=TMALL_LOOKUP_METHOD,
        app_key=app_key,
        secret=secret,
        session=session,
        app_params={"num_iid": num_iid, "fields": fields},
        sign_method=sign_method,
        style=style,
        timestamp=timestamp,
        extra=extra,
    )


tmall_lookup = _sender(build_tmall_lookup_request, "tmall_lookup")


def build_miniapp_lookup_request(
    client: httpx.Client,
    *,
    app_key: str,
    secret: str,
    session: str | None,
    miniapp_id: str | int | None,
    file_name: str | None = None,
    page_no: int | str | None = None,
    page_size: int | str | None = None,
    sign_method: str = "md5",
    style: Literal["sdk", "multipart"] = "sdk",
    timestamp: str | int | None = None,
    extra: Extra = None,
) -> httpx.Request:
    """lookups.md: ``taobao.miniapp.trade.picture.get``; ``None`` parameters are not sent."""
    return build_top_request(
        client,
        method=MINIAPP_LOOKUP_METHOD,
        app_key=app_key,
        secret=secret,
        session=session,
        app_params={
            "miniapp_id": miniapp_id,
            "file_name": file_name,
            "page_no": page_no,
            "page_size": page_size,
        },
        sign_method=sign_method,
        style=style,
        timestamp=timestamp,
        extra=extra,
    )


miniapp_lookup = _sender(build_miniapp_lookup_request, "miniapp_lookup")


# --- 3. vv-tool (taobao_picture) ----------------------------------------------------------


def build_vv_token_request(
    client: httpx.Client,
    *,
    client_id: str,
    client_secret: str,
    grant_type: str = "client_credentials",
    extra: Extra = None,
) -> httpx.Request:
    """``POST /api/proxy/oauth/token``, form-urlencoded."""
    form = _apply_extra(
        {"grant_type": grant_type, "client_id": client_id, "client_secret": client_secret},
        extra,
    )
    return client.build_request("POST", VV_TOKEN_PATH, data=form)


vv_token = _sender(build_vv_token_request, "vv_token")


def build_vv_upload_request(
    client: httpx.Client,
    *,
    token: str | None,
    shop_id: str,
    img: bytes | None,
    filename: str,
    picture_category_id: str = "0",
    title: str | None = None,
    client_type: str | None = None,
    is_https: bool | str | None = None,
    vvtype: str | None = "2",
    content_type: str | None = None,
    extra: Extra = None,
) -> httpx.Request:
    """``POST /tool/erps/tbpicture``, multipart, ``Authorization: Bearer <token>``.

    File part ``img`` named ``filename`` (omitted when ``img`` is None);
    ``image_input_title`` defaults to ``filename`` (change or drop it with ``extra``).
    No signature.  ``token=None`` sends no Authorization header.
    """
    fields = _apply_extra(
        _clean(
            {
                "shop_id": shop_id,
                "picture_category_id": picture_category_id,
                "image_input_title": filename,
                "title": title,
                "client_type": client_type,
                "is_https": is_https,
                "vvtype": vvtype,
            }
        ),
        extra,
    )
    files: dict[str, FileSpec] = {}
    if img is not None:
        files["img"] = (filename, img, content_type) if content_type else (filename, img)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return _multipart_request(client, VV_UPLOAD_PATH, fields, files, headers=headers)


vv_upload = _sender(build_vv_upload_request, "vv_upload")


def build_vv_lookup_request(
    client: httpx.Client,
    *,
    token: str | None,
    shop_id: str | None,
    title: str | None = None,
    picture_category_id: str | None = None,
    page_no: int | str | None = None,
    page_size: int | str | None = None,
    vvtype: str | None = "2",
    encoding: Literal["multipart", "form"] = "multipart",
    extra: Extra = None,
) -> httpx.Request:
    """lookups.md: ``POST /tool/erps/tbpicture/get``, ``Authorization: Bearer <token>``.

    Fields as multipart (``encoding="multipart"``) or form-urlencoded (``"form"``);
    ``None`` parameters are not sent; ``token=None`` sends no Authorization header.
    """
    fields = _apply_extra(
        _clean(
            {
                "shop_id": shop_id,
                "vvtype": vvtype,
                "title": title,
                "picture_category_id": picture_category_id,
                "page_no": page_no,
                "page_size": page_size,
            }
        ),
        extra,
    )
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if encoding == "form":
        return client.build_request("POST", VV_LOOKUP_PATH, data=fields, headers=headers)
    if encoding != "multipart":
        raise ValueError(f"unknown encoding {encoding!r}")
    return _multipart_request(client, VV_LOOKUP_PATH, fields, {}, headers=headers)


vv_lookup = _sender(build_vv_lookup_request, "vv_lookup")


# --- 2. fw199 (doudian) -------------------------------------------------------------------


def _fw199_params(
    appid: str,
    secret: str,
    seller_nick: str,
    timestamp: str | int | None,
    business: Mapping[str, Value],
    extra: Extra,
) -> dict[str, str]:
    params = _clean(
        {
            "appid": appid,
            "timestamp": _ts(timestamp, unix_now()),
            "seller_nick": seller_nick,
            **business,
        }
    )
    params = _apply_extra(params, extra)
    return _with_sign(params, fw199_sign(params, secret), extra)


def build_fw199_upload_request(
    client: httpx.Client,
    *,
    appid: str,
    secret: str,
    seller_nick: str,
    material_name: str,
    folder_id: str = "0",
    file: bytes | None = None,
    url: str | None = None,
    need_distinct: bool | str = False,
    filename: str | None = None,
    content_type: str | None = None,
    timestamp: str | int | None = None,
    extra: Extra = None,
) -> httpx.Request:
    """``POST /gateway/dd/material/uploadimagesync``.

    Without ``file``: form-urlencoded.  With ``file``: multipart, the signed text params
    as fields plus an unsigned file part ``file`` (named ``filename``, default
    ``material_name``).  Unix-second timestamp; lowercase-MD5 signature over every text
    param including empty ones.
    """
    params = _fw199_params(
        appid,
        secret,
        seller_nick,
        timestamp,
        {
            "folder_id": folder_id,
            "url": url,
            "material_name": material_name,
            "need_distinct": need_distinct,
        },
        extra,
    )
    if file is None:
        return client.build_request("POST", FW199_UPLOAD_PATH, data=params)
    name = filename if filename is not None else material_name
    spec: FileSpec = (name, file, content_type) if content_type else (name, file)
    return _multipart_request(client, FW199_UPLOAD_PATH, params, {"file": spec})


fw199_upload = _sender(build_fw199_upload_request, "fw199_upload")


def build_fw199_detail_request(
    client: httpx.Client,
    *,
    appid: str,
    secret: str,
    seller_nick: str,
    material_id: str,
    timestamp: str | int | None = None,
    extra: Extra = None,
) -> httpx.Request:
    """``POST /gateway/dd/material/querymaterialdetail``, form-urlencoded, signed."""
    params = _fw199_params(
        appid, secret, seller_nick, timestamp, {"material_id": material_id}, extra
    )
    return client.build_request("POST", FW199_DETAIL_PATH, data=params)


fw199_detail = _sender(build_fw199_detail_request, "fw199_detail")


# --- 4. Qianmi (qianmi_sku) ---------------------------------------------------------------


def build_qianmi_upload_request(
    client: httpx.Client,
    *,
    app_key: str,
    secret: str,
    access_token: str | None,
    num_iid: str,
    sku_id: str,
    image_bytes: bytes | None = None,
    ext: str = "jpg",
    img_id: str | None = None,
    position: int | str | None = None,
    fields: str | None = "id,url,position,created",
    timestamp: str | int | None = None,
    extra: Extra = None,
) -> httpx.Request:
    """``POST /api`` with ``method=qianmi.cloudshop.sku.image.upload``.

    System params (and any ``extra`` key that is a system name) in the query string,
    business params form-urlencoded in the body; ``image = "<ext>@<base64>"``, unsigned.
    """
    image = None if image_bytes is None else f"{ext}@{base64.b64encode(image_bytes).decode()}"
    business = {
        "num_iid": num_iid,
        "sku_id": sku_id,
        "fields": fields,
        "image": image,
        "img_id": img_id,
        "position": position,
    }
    return _qianmi_request(
        client, QIANMI_METHOD, app_key, secret, access_token, business, timestamp, extra
    )


def _qianmi_request(
    client: httpx.Client,
    method: str,
    app_key: str,
    secret: str,
    access_token: str | None,
    business: Mapping[str, Value],
    timestamp: str | int | None,
    extra: Extra,
) -> httpx.Request:
    params = _clean(
        {
            "method": method,
            "v": "1.1",
            "appKey": app_key,
            "timestamp": _ts(timestamp, gmt8_now()),
            "format": "json",
            "access_token": access_token,
            **business,
        }
    )
    params = _apply_extra(params, extra)
    params = _with_sign(params, qianmi_sign(params, secret), extra)
    query = {k: v for k, v in params.items() if k in QIANMI_SYSTEM_PARAMS}
    body = {k: v for k, v in params.items() if k not in QIANMI_SYSTEM_PARAMS}
    return client.build_request("POST", QIANMI_PATH, params=query, data=body)


qianmi_upload = _sender(build_qianmi_upload_request, "qianmi_upload")


def build_qianmi_lookup_request(
    client: httpx.Client,
    *,
    app_key: str,
    secret: str,
    access_token: str | None,
    num_iid: str | None,
    sku_id: str | None,
    fields: str | None = "id,url,position,created",
    timestamp: str | int | None = None,
    extra: Extra = None,
) -> httpx.Request:
    """lookups.md: ``qianmi.cloudshop.sku.images.get``, signed and encoded as the upload."""
    business = {"num_iid": num_iid, "sku_id": sku_id, "fields": fields}
    return _qianmi_request(
        client, QIANMI_LOOKUP_METHOD, app_key, secret, access_token, business, timestamp, extra
    )


qianmi_lookup = _sender(build_qianmi_lookup_request, "qianmi_lookup")


# --- test images --------------------------------------------------------------------------

RGB = tuple[int, int, int]


def _encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **options)
    return out.getvalue()


def make_jpeg(w: int = 64, h: int = 64, color: RGB = (200, 40, 40)) -> bytes:
    """A plain ``w`` x ``h`` JPEG."""
    return _encode(Image.new("RGB", (w, h), color), "JPEG", quality=90)


def make_png(w: int = 64, h: int = 64, color: RGB = (40, 160, 40)) -> bytes:
    """A plain ``w`` x ``h`` PNG."""
    return _encode(Image.new("RGB", (w, h), color), "PNG")


def make_gif(w: int = 64, h: int = 64, color: RGB = (40, 40, 200)) -> bytes:
    """A plain ``w`` x ``h`` GIF."""
    return _encode(Image.new("RGB", (w, h), color), "GIF")


def make_webp(w: int = 64, h: int = 64, color: RGB = (200, 200, 40)) -> bytes:
    """A plain ``w`` x ``h`` WebP (a format most of the platforms refuse)."""
    return _encode(Image.new("RGB", (w, h), color), "WEBP")


def make_bmp(w: int = 64, h: int = 64, color: RGB = (40, 200, 200)) -> bytes:
    """A plain ``w`` x ``h`` BMP (refused everywhere)."""
    return _encode(Image.new("RGB", (w, h), color), "BMP")


def big_jpeg(min_bytes: int, *, seed: int = 0) -> bytes:
    """A valid JPEG of at least ``min_bytes`` bytes (random noise barely compresses)."""
    rng = random.Random(seed)
    side = max(16, int((min_bytes / 2.5) ** 0.5))
    while True:
        img = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        data = _encode(img, "JPEG", quality=95, subsampling=0)
        if len(data) >= min_bytes:
            return data
        side = int(side * 1.2) + 8
