"""The baseline's wire: each platform's request, signed, and its answer, read.

Written from the protocol pages alone (the platforms' official API pages named in
``docs/protocols.md``, and that page's signing and envelope facts), never from imgkit's
adapters: this is what an analyst writes with those pages open.  One function per platform builds
and sends one upload (``send_<platform>``) and reads the answer into an :class:`Answer`;
``query_douyin`` asks Douyin's detail query during the audit.

Every function takes a ``requests.Session`` and returns an :class:`Answer`; transport
errors (a dropped connection, a timeout) are left to the caller, which retries them.

Example
-------
The signatures reproduce the published test vectors (the TOP SDK's, and fw199's sample):

>>> top_sign({"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}, "helloworld", "md5")
'5AAF1C690262A24768F5478B084C2C8A'
>>> fw199_sign({"appid": "testappid", "folder_id": "0", "material_name": "a.jpg",
...             "need_distinct": "false", "seller_nick": "38173182",
...             "timestamp": "1700000000", "url": "https://example.com/a.jpg"}, "testsecret")
'ea356406a02fb73188e45cf0c445b2ec'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests  # type: ignore[import-untyped, unused-ignore]

# TOP and Qianmi want Beijing time whatever the machine's zone.
GMT8 = timedelta(hours=8)
TIMEOUT_S = 60.0


@dataclass
class Answer:
    """What one request came back with.

    ``kind`` is ``ok``, ``auditing`` (Douyin: stored, audit not over), ``rate`` (a
    rate-limit answer), ``transient`` (the docs say try again), ``auth`` (a refused token:
    fetch a new one) or ``fatal`` (any other refusal).
    """

    kind: str
    url: str = ""
    image_id: str = ""
    code: str = ""
    message: str = ""


def beijing_now() -> str:
    """``yyyy-MM-dd HH:mm:ss`` in GMT+8 (TOP and Qianmi timestamps)."""
    return (datetime.now(UTC) + GMT8).strftime("%Y-%m-%d %H:%M:%S")


def top_sign(params: dict[str, str], secret: str, method: str) -> str:
    """TOP: sorted ``k1v1k2v2…`` of the non-empty text parameters; uppercase hex."""
    text = "".join(k + params[k] for k in sorted(params) if params[k] != "")
    if method == "md5":
        digest = hashlib.md5((secret + text + secret).encode()).hexdigest()
    elif method == "hmac":
        digest = hmac.new(secret.encode(), text.encode(), hashlib.md5).hexdigest()
    else:  # hmac-sha256
        digest = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return digest.upper()


def fw199_sign(params: dict[str, str], secret: str) -> str:
    """fw199: every text parameter, empty ones too, sorted; lowercase MD5."""
    text = "".join(k + params[k] for k in sorted(params))
    return hashlib.md5((secret + text + secret).encode()).hexdigest()


def qianmi_sign(params: dict[str, str], secret: str) -> str:
    """Qianmi: without ``sign``, ``image`` and empty values, sorted; uppercase SHA-1."""
    skip = {"sign", "image", "file", "logo"}
    text = "".join(k + v for k, v in sorted(params.items()) if k not in skip and v != "")
    return hashlib.sha1((secret + text + secret).encode()).hexdigest().upper()


def _json(response: requests.Response) -> dict[str, Any]:
    # A body that is not JSON (an HTML 504 page, an empty answer) is a server hiccup to
    # the analyst: raise, and the caller's retry loop sends again.
    if response.status_code >= 500:
        raise requests.HTTPError(f"HTTP {response.status_code}")
    body: dict[str, Any] = response.json()
    return body


# --- vv-tool → Taobao picture space ---------------------------------------------------------


def fetch_vv_token(session: requests.Session, shop: dict[str, Any]) -> str:
    """``POST /api/proxy/oauth/token`` with the shop's client credentials."""
    form = {
        "grant_type": "client_credentials",
        "client_id": shop["client_id"],
        "client_secret": shop["client_secret"],
    }
    url = shop["base_url"] + "/api/proxy/oauth/token"
    body = _json(session.post(url, data=form, timeout=TIMEOUT_S))
    if body.get("code") != 0:
        raise RuntimeError(f"vv-tool token refused: {body}")
    return str(body["data"]["access_token"])


def send_taobao_picture(
    session: requests.Session, shop: dict[str, Any], row: dict[str, Any], token: str
) -> Answer:
    """One picture-space upload: multipart, bearer token, ``vvtype=2``."""
    path = Path(row["file"])
    form = {
        "shop_id": shop["shop_id"],
        "picture_category_id": str(row["target"]),
        "image_input_title": path.name,
        "vvtype": "2",
    }
    if row.get("title"):
        form["title"] = str(row["title"])
    files = {"img": (path.name, path.read_bytes(), "application/octet-stream")}
    response = session.post(
        shop["base_url"] + "/tool/erps/tbpicture",
        data=form,
        files=files,
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT_S,
    )
    if response.status_code == 429:
        return Answer("rate", code="429", message=response.text[:200])
    if response.status_code == 401:
        return Answer("auth", code="401", message=response.text[:200])
    body = _json(response)
    code = body.get("code")
    if code == 0:
        picture = body["data"]["picture_upload_response"]["picture"]
        return Answer("ok", str(picture["picture_path"]), str(picture["picture_id"]))
    kind = "transient" if code in (101, 200) else "fatal"
    return Answer(kind, code=str(code), message=str(body.get("msg", "")))


# --- Taobao Open Platform: mini-app pictures and Tmall item images --------------------------


def _top_error(error: dict[str, Any]) -> Answer:
    code, sub = error.get("code"), str(error.get("sub_code", ""))
    message = f"{error.get('msg', '')} {error.get('sub_msg', '')}".strip()
    if code == 8 or (code == 7 and "app-access-count" not in sub) or "QPS_LIMIT" in sub:
        return Answer("rate", code=f"{code} {sub}", message=message)
    if code in (3, 10) or sub.startswith("isp.") or sub == "isv.picture-service-error":
        return Answer("transient", code=f"{code} {sub}", message=message)
    return Answer("fatal", code=f"{code} {sub}", message=message)


def _top_post(
    session: requests.Session,
    shop: dict[str, Any],
    method: str,
    app_params: dict[str, str],
    file_field: str,
    path: Path,
) -> dict[str, Any]:
    sign_method = shop.get("sign_method", "md5")
    params = {
        "method": method,
        "app_key": str(shop["app_key"]),
        "session": shop["session"],
        "timestamp": beijing_now(),
        "v": "2.0",
        "format": "json",
        "sign_method": sign_method,
        **app_params,
    }
    params["sign"] = top_sign(params, shop["app_secret"], sign_method)
    # Everything as multipart fields, the file as one more part (the file is not signed).
    files = {file_field: (path.name, path.read_bytes(), "application/octet-stream")}
    response = session.post(
        shop["base_url"] + "/router/rest", data=params, files=files, timeout=TIMEOUT_S
    )
    return _json(response)


def send_taobao_miniapp(
    session: requests.Session, shop: dict[str, Any], row: dict[str, Any]
) -> Answer:
    """``taobao.miniapp.trade.picture.upload``: ``miniapp_id``, ``file_name``, ``bytes``."""
    path = Path(row["file"])
    title = str(row.get("title") or path.stem)
    app = {"miniapp_id": str(row["target"]), "file_name": title}
    body = _top_post(session, shop, "taobao.miniapp.trade.picture.upload", app, "bytes", path)
    if "error_response" in body:
        return _top_error(body["error_response"])
    result = body["miniapp_trade_picture_upload_response"]["result"]
    # Content problems come as success = false without an error_response.
    if not result.get("success"):
        return Answer(
            "fatal", code=str(result.get("err_code")), message=str(result.get("err_message"))
        )
    model = result["model"]
    return Answer("ok", str(model["path"]), str(model["pic_id"]))


def send_tmall_item(session: requests.Session, shop: dict[str, Any], row: dict[str, Any]) -> Answer:
    """``taobao.item.img.upload.tmall``: ``num_iid``, optional ``position`` / ``is_major``."""
    path = Path(row["file"])
    app = {"num_iid": str(row["target"])}
    if row.get("position") not in (None, ""):
        app["position"] = str(row["position"])
    if str(row.get("is_major", "")).lower() == "true":
        app["is_major"] = "true"
    body = _top_post(session, shop, "taobao.item.img.upload.tmall", app, "image", path)
    if "error_response" in body:
        return _top_error(body["error_response"])
    image = body["item_img_upload_tmall_response"]["item_img"]
    return Answer("ok", str(image["url"]), str(image["id"]))


# --- fw199 → Douyin material centre ---------------------------------------------------------


def _douyin_answer(body: dict[str, Any]) -> Answer:
    code, sub = body.get("code"), str(body.get("sub_code", ""))
    if code == 0:
        data = body.get("data") or {}
        info = data.get("material_info", data)  # public samples show both shapes
        status = int(info.get("audit_status", 3))
        material = str(info["material_id"])
        if status == 3:
            return Answer("ok", str(info.get("byte_url", "")), material)
        if status == 4:
            return Answer(
                "fatal",
                image_id=material,
                code="audit 4",
                message=str(info.get("audit_reject_desc", "")),
            )
        return Answer("auditing", image_id=material)
    message = f"{body.get('message', '')} {body.get('sub_msg', '')}".strip()
    if code == 60000:
        return Answer("rate", code=str(code), message=message)
    if code in (20000, 20001) or sub.startswith("isp.") or sub.endswith(":10010"):
        return Answer("transient", code=f"{code} {sub}", message=message)
    return Answer("fatal", code=f"{code} {sub}", message=message)


def _douyin_params(shop: dict[str, Any], business: dict[str, str]) -> dict[str, str]:
    params = {
        "appid": shop["appid"],
        "timestamp": str(int(time.time())),
        "seller_nick": str(shop["seller_nick"]),
        **business,
    }
    params["sign"] = fw199_sign(params, shop["app_secret"])
    return params


def send_doudian(session: requests.Session, shop: dict[str, Any], row: dict[str, Any]) -> Answer:
    """``/material/uploadimagesync`` with a local file: multipart, file part ``file``."""
    path = Path(row["file"])
    business = {
        "folder_id": str(row["target"]),
        "material_name": str(row.get("title") or path.name),
    }
    if str(row.get("need_distinct", "")).lower() == "true":
        business["need_distinct"] = "true"
    params = _douyin_params(shop, business)
    files = {"file": (path.name, path.read_bytes(), "application/octet-stream")}
    url = shop["base_url"] + "/gateway/dd/material/uploadimagesync"
    return _douyin_answer(_json(session.post(url, data=params, files=files, timeout=TIMEOUT_S)))


def query_douyin(session: requests.Session, shop: dict[str, Any], material_id: str) -> Answer:
    """``/material/querymaterialdetail``: where the audit of ``material_id`` stands."""
    params = _douyin_params(shop, {"material_id": material_id})
    url = shop["base_url"] + "/gateway/dd/material/querymaterialdetail"
    return _douyin_answer(_json(session.post(url, data=params, timeout=TIMEOUT_S)))


# --- Qianmi SKU images ----------------------------------------------------------------------


def send_qianmi_sku(session: requests.Session, shop: dict[str, Any], row: dict[str, Any]) -> Answer:
    """``qianmi.cloudshop.sku.image.upload``: system parameters in the query, the image
    as ``<ext>@<base64>`` in a form-urlencoded body."""
    path = Path(row["file"])
    num_iid, sku_id = str(row["target"]).split("/", 1)
    system = {
        "method": "qianmi.cloudshop.sku.image.upload",
        "v": "1.1",
        "appKey": str(shop["app_key"]),
        "timestamp": beijing_now(),
        "format": "json",
        "access_token": shop["access_token"],
    }
    ext = path.suffix.lstrip(".").lower() or "jpg"
    business = {
        "num_iid": num_iid,
        "sku_id": sku_id,
        "fields": "id,url,position,created",
        "image": f"{ext}@{base64.b64encode(path.read_bytes()).decode()}",
    }
    if row.get("position") not in (None, ""):
        business["position"] = str(row["position"])
    system["sign"] = qianmi_sign({**system, **business}, shop["app_secret"])
    response = session.post(
        shop["base_url"] + "/api", params=system, data=business, timeout=TIMEOUT_S
    )
    body = _json(response)
    error = body.get(
        "error_response", body if "errorToken" in body or "subErrors" in body else None
    )
    if error is None:
        # The success root's name is not documented: take the first object member.
        root = next(v for v in body.values() if isinstance(v, dict))
        image = root["sku_img"]
        return Answer("ok", str(image["url"]), str(image["id"]))
    code = str(error.get("code", ""))
    subs = (error.get("subErrors") or {}).get("subError") or [{}]
    sub = str(error.get("sub_code") or subs[0].get("code", ""))
    message = str(error.get("message") or error.get("msg") or "")
    if code in ("34", "35", "36", "37"):
        return Answer("rate", code=code, message=message)
    if code in ("1", "4") or sub.startswith("isp."):
        return Answer("transient", code=f"{code} {sub}", message=message)
    return Answer("fatal", code=f"{code} {sub}", message=message)
