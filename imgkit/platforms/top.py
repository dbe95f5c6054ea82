"""The Taobao Open Platform (TOP) protocol, shared by ``taobao_miniapp`` and ``tmall_item``.

``POST {base}/router/rest``: the system parameters (``method``, ``app_key``, ``session``,
``timestamp``, ``v=2.0``, ``format=json``, ``sign_method``, ``sign``) go in the query
string; the API's own parameters and its file part go in a multipart/form-data body.  The
signature covers every text parameter sent (system and API) except ``sign``, file parts
and empty values, sorted by name in byte order: ``md5`` is MD5(secret + s + secret),
``hmac`` HMAC-MD5(secret, s), ``hmac-sha256`` HMAC-SHA256(secret, s), in uppercase hex.
The timestamp is ``yyyy-MM-dd HH:mm:ss`` in GMT+8, whatever the machine's time zone.

Answers come with HTTP 200: ``{"<method without taobao., dots as _>_response": {...}}`` on
success, ``{"error_response": {"code", "msg", "sub_code", "sub_msg"}}`` otherwise.  A
:class:`TopAdapter` subclass names its method and file part, builds its API parameters
and reads its success root; the envelope, the gateway codes and the signing live here.
A subclass with a look-up (``docs/lookups.md``) also names ``lookup_method`` and fills in
:meth:`TopAdapter.lookup_params` and :meth:`TopAdapter.parse_listing`; look-ups carry their
text parameters in a multipart body too (a form with no file part), signed the same way.

Example
-------
>>> top_timestamp(0.0)
'1970-01-01 08:00:00'
>>> sign({"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}, "helloworld")
'5AAF1C690262A24768F5478B084C2C8A'
>>> response_key("taobao.item.img.upload.tmall")
'item_img_upload_tmall_response'
>>> ban_seconds("This ban will last for 17 more seconds")
17.0
"""

from __future__ import annotations

import hashlib
import hmac
import re
from abc import abstractmethod
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from imgkit.errors import Category, ImgkitError, ShopConfigError
from imgkit.platforms import forms
from imgkit.platforms.base import (
    Adapter,
    CodeRule,
    CredentialSpec,
    Job,
    Lookup,
    Outcome,
    text,
)
from imgkit.platforms.forms import with_query

if TYPE_CHECKING:
    from imgkit.intake.shops import Shop

DEFAULT_BASE_URL = "https://eco.taobao.com"
PATH = "/router/rest"
API_VERSION = "2.0"
SIGN_METHODS = ("md5", "hmac", "hmac-sha256")
GMT8 = timezone(timedelta(hours=8))
_T = TypeVar("_T")
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif"}

CREDENTIALS = CredentialSpec(
    required=("app_key", "app_secret", "session"),
    optional=("sign_method",),
    secret=frozenset({"app_secret", "session"}),
    # The app, and the seller who authorized it: only the session names the seller.
    identity=("app_key", "session"),
    choices={"sign_method": SIGN_METHODS},
)


def _rule(category: Category, retryable: bool, zh: str, en: str) -> CodeRule:
    return CodeRule(category, retryable, zh, en)


# Gateway codes, common to every TOP API.  Keys are looked up one candidate at a time (see
# TopAdapter.rule_key): the exact sub-code first (the code-7 ones and each API's own),
# then "<code>:<sub_code>" (code 15 is decided by its sub-code's prefix), then the code.
GATEWAY_CODES: dict[str, CodeRule] = {
    "3": _rule(Category.TRANSIENT, True, "文件上传失败,稍后重试", "upload failed; retry"),
    "7": _rule(Category.RATE_LIMITED, True, "应用调用受限,稍后重试", "app calls limited"),
    "accesscontrol.limited-by-app-access-count": _rule(
        Category.QUOTA, False, "应用今日调用次数已用完", "the app's daily call quota is used up"
    ),
    "accesscontrol.limited-by-api-access-count": _rule(
        Category.RATE_LIMITED, True, "接口调用被暂时禁止,稍后重试", "API calls banned for a while"
    ),
    "accesscontrol.limited-by-app-api-access-count": _rule(
        Category.RATE_LIMITED,
        True,
        "应用调用该接口被暂时禁止,稍后重试",
        "the app's calls to this API are banned for a while",
    ),
    "8": _rule(Category.RATE_LIMITED, True, "调用频率超限", "call frequency exceeded"),
    "10": _rule(Category.TRANSIENT, True, "服务暂时不可用", "service currently unavailable"),
    "11": _rule(Category.PERMISSION, False, "应用没有该API的权限", "the app lacks this API"),
    "12": _rule(Category.PERMISSION, False, "用户没有该API的权限", "the user lacks this API"),
    "13": _rule(
        Category.PERMISSION, False, "授权不包含该API", "the session is not authorized for it"
    ),
    "15": _rule(Category.TRANSIENT, True, "远程服务错误", "remote service error"),
    "15:isp.*": _rule(
        Category.TRANSIENT, True, "平台服务暂时出错,稍后重试", "platform service error; retry"
    ),
    "15:isv.*": _rule(
        Category.INVALID_INPUT, False, "请求被平台拒绝", "the platform refused the request"
    ),
    "21": _rule(Category.INVALID_INPUT, False, "缺少方法名", "missing method"),
    "22": _rule(Category.INVALID_INPUT, False, "方法名无效", "invalid method"),
    "23": _rule(Category.INVALID_INPUT, False, "格式无效", "invalid format"),
    "24": _rule(Category.AUTH, False, "缺少签名", "missing signature"),
    "25": _rule(Category.AUTH, False, "签名错误,请检查 app_secret", "invalid signature"),
    "26": _rule(Category.AUTH, False, "缺少 session", "missing session"),
    "27": _rule(Category.AUTH, False, "session 无效或已过期", "invalid or expired session"),
    "28": _rule(Category.AUTH, False, "缺少 app_key", "missing app key"),
    "29": _rule(Category.AUTH, False, "app_key 无效", "invalid app key"),
    "30": _rule(Category.INVALID_INPUT, False, "缺少时间戳", "missing timestamp"),
    "31": _rule(
        Category.INVALID_INPUT, False, "时间戳无效,请检查本机时钟", "invalid timestamp (clock?)"
    ),
    "32": _rule(Category.INVALID_INPUT, False, "缺少版本号", "missing version"),
    "33": _rule(Category.INVALID_INPUT, False, "版本号无效", "invalid version"),
    "34": _rule(Category.INVALID_INPUT, False, "不支持的版本号", "unsupported version"),
    "40": _rule(Category.INVALID_INPUT, False, "缺少必要的参数", "missing required argument"),
    "41": _rule(Category.INVALID_INPUT, False, "非法参数", "invalid argument"),
    "42": _rule(Category.PERMISSION, False, "禁止访问(IP 白名单?)", "forbidden request"),
    "43": _rule(Category.INVALID_INPUT, False, "参数错误", "parameter error"),
}

_BAN = re.compile(r"ban will last for\s+(\d+(?:\.\d+)?)\s+more seconds", re.IGNORECASE)


def top_timestamp(now: float) -> str:
    """``now`` (epoch seconds) as TOP's ``yyyy-MM-dd HH:mm:ss`` in GMT+8.

    The machine's time zone plays no part.

    >>> top_timestamp(1704081600)
    '2024-01-01 12:00:00'
    """
    return datetime.fromtimestamp(now, tz=GMT8).strftime("%Y-%m-%d %H:%M:%S")


def sign(params: Mapping[str, str], secret: str, sign_method: str = "md5") -> str:
    """TOP's signature of the text ``params`` (``sign`` and empty values left out).

    Raises ValueError for a ``sign_method`` other than md5, hmac and hmac-sha256.

    >>> p = {"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}
    >>> sign(p, "helloworld", "hmac")
    'E687005F819D6F9E6ED085311C8ACC75'
    >>> sign({**p, "sign": "x", "empty": ""}, "helloworld", "md5") == sign(p, "helloworld")
    True
    """
    names = sorted((n for n, v in params.items() if n != "sign" and v), key=str.encode)
    payload = "".join(name + params[name] for name in names).encode()
    key = secret.encode()
    if sign_method == "md5":
        digest = hashlib.md5(key + payload + key).hexdigest()
    elif sign_method == "hmac":
        digest = hmac.new(key, payload, hashlib.md5).hexdigest()
    elif sign_method == "hmac-sha256":
        digest = hmac.new(key, payload, hashlib.sha256).hexdigest()
    else:
        raise ValueError(f"unknown TOP sign_method {sign_method!r}")
    return digest.upper()


def response_key(method: str) -> str:
    """The root key of a TOP method's success answer.

    >>> response_key("taobao.miniapp.trade.picture.upload")
    'miniapp_trade_picture_upload_response'
    """
    return method.removeprefix("taobao.").replace(".", "_") + "_response"


def ban_seconds(message: str) -> float | None:
    """The N of "This ban will last for N more seconds", or None.

    >>> ban_seconds("App Call Limited") is None
    True
    """
    found = _BAN.search(message)
    return float(found.group(1)) if found else None


def join_message(*parts: str) -> str:
    """The non-empty parts of a message, joined with " / ".

    >>> join_message("Remote service error", "", "商品图片太大")
    'Remote service error / 商品图片太大'
    """
    return " / ".join(part for part in parts if part)


class TopAdapter(Adapter):
    """A TOP API: subclasses set ``method`` and ``file_part`` and the two hooks.

    >>> from imgkit.platforms import get_adapter
    >>> isinstance(get_adapter("tmall_item"), TopAdapter)
    True
    """

    method: str
    file_part: str
    # The look-up's TOP method (docs/lookups.md); None when the API has none.
    lookup_method: str | None = None
    default_base_url = DEFAULT_BASE_URL
    path = PATH
    credentials = CREDENTIALS

    def implemented_abilities(self) -> tuple[str, ...]:
        """As :meth:`Adapter.implemented_abilities`; the look-up only with ``lookup_method``."""
        found = super().implemented_abilities()
        return tuple(a for a in found if a != "lookup" or self.lookup_method is not None)

    # --- the hooks ---------------------------------------------------------------------------

    @abstractmethod
    def api_params(self, job: Job) -> dict[str, str]:
        """The API's own text parameters for ``job`` (empty values are not sent)."""

    @abstractmethod
    def parse_success(self, root: dict[str, Any], body: dict[str, Any]) -> Outcome:
        """The outcome of an answer holding the success root ``root``."""

    def lookup_params(self, job: Job) -> dict[str, str] | None:
        """The look-up's own text parameters for ``job``; None when it cannot settle ``job``."""
        return None

    def parse_listing(self, root: dict[str, Any], body: dict[str, Any]) -> Lookup | Outcome:
        """The look-up of an answer holding the look-up's success root ``root``.

        Only called when :meth:`lookup_params` gave parameters, so a TOP API without a
        look-up never reaches it.
        """
        raise ImgkitError(f"{self.key} has no look-up", code="no_lookup")

    # --- the protocol --------------------------------------------------------------------------

    def system_params(self, shop: Shop, *, now: float, method: str = "") -> dict[str, str]:
        """The unsigned system parameters calling ``method`` (the upload's by default)."""
        sign_method = (shop.get("sign_method") or "md5").lower()
        if sign_method not in SIGN_METHODS:
            raise ShopConfigError(
                f"shop {shop.name!r}: sign_method must be one of {', '.join(SIGN_METHODS)}, "
                f"got {sign_method!r} / 店铺 {shop.name!r} 的 sign_method 无效",
                code="bad_field",
            )
        return {
            "method": method or self.method,
            "app_key": shop.get("app_key"),
            "session": shop.get("session"),
            "timestamp": top_timestamp(now),
            "v": API_VERSION,
            "format": "json",
            "sign_method": sign_method,
        }

    def signed(
        self, shop: Shop, fields: Mapping[str, str], *, now: float, method: str = ""
    ) -> tuple[dict[str, str], dict[str, str]]:
        """``(query, body fields)`` calling ``method``: empty values dropped, query signed."""
        system = {k: v for k, v in self.system_params(shop, now=now, method=method).items() if v}
        body = {k: v for k, v in fields.items() if v}
        system["sign"] = sign({**system, **body}, shop.get("app_secret"), system["sign_method"])
        return system, body

    def build_request(self, job: Job, shop: Shop, *, now: float, token: str = "") -> httpx.Request:
        """System parameters (signed) in the query; API parameters and file in the body."""
        system, fields = self.signed(shop, self.api_params(job), now=now)
        if job.data is None:  # an image URL: the fields alone, form-encoded
            return forms.form(with_query(self.url(shop), system), fields)
        content_type = CONTENT_TYPES.get(job.fmt or "", "application/octet-stream")
        files = {self.file_part: (job.filename, job.data, content_type)}
        return forms.request(with_query(self.url(shop), system), fields, files)

    def build_lookup_request(
        self, job: Job, shop: Shop, *, now: float, token: str = ""
    ) -> httpx.Request | None:
        """The signed look-up for ``job``: system parameters in the query, the rest multipart.

        None when the API has no look-up or :meth:`lookup_params` cannot settle ``job``.
        """
        if self.lookup_method is None:
            return None
        params = self.lookup_params(job)
        if params is None:
            return None
        system, fields = self.signed(shop, params, now=now, method=self.lookup_method)
        # The TOP encodings docs/protocols.md names are multipart ones, and httpx writes
        # multipart only when there is a file part: a look-up's body is built here.
        return forms.request(with_query(self.url(shop), system), fields)

    def parse_response(self, response: httpx.Response) -> Outcome:
        """``error_response`` is classified; the success root goes to :meth:`parse_success`."""
        return self.read_envelope(response, self.method, self.parse_success)

    def parse_lookup_response(self, response: httpx.Response) -> Lookup | Outcome:
        """``error_response`` is classified as an upload's; the listing to :meth:`parse_listing`.

        Raises :class:`imgkit.errors.ImgkitError` when the API has no look-up.
        """
        if self.lookup_method is None:
            return super().parse_lookup_response(response)
        return self.read_envelope(response, self.lookup_method, self.parse_listing)

    def read_envelope(
        self,
        response: httpx.Response,
        method: str,
        on_success: Callable[[dict[str, Any], dict[str, Any]], _T],
    ) -> _T | Outcome:
        """The TOP envelope of an answer to ``method``: its error, or ``on_success(root, body)``."""
        body = self.read_json(response)
        if isinstance(body, Outcome):
            return body
        error = body.get("error_response")
        if isinstance(error, dict):
            return self.classify_error(error, body)
        root = body.get(response_key(method))
        if isinstance(root, dict):
            return on_success(root, body)
        # Neither envelope: a proxy's JSON (HTTP 500 {"error": ...}) or a stranger's answer.
        return self.judge_status(response)

    def rule_key(self, code: str, sub_code: str) -> str:
        """The look-up candidate that decides ``code``/``sub_code`` ("" when none does).

        Candidates are tried one at a time — the sub-code, ``"<code>:<sub_code>"``, the
        code — so that an API's own sub-code beats the gateway code, and a gateway code
        such as 25 beats the generic ``15:isv.*`` of code 15.

        >>> from imgkit.platforms import get_adapter
        >>> top = get_adapter("tmall_item")
        >>> top.rule_key("15", "isp.remote-service-error"), top.rule_key("25", "isv.x")
        ('15:isp.remote-service-error', '25')
        """
        candidates = (sub_code, f"{code}:{sub_code}" if sub_code else "", code)
        for candidate in candidates:
            if candidate and self.codes.lookup(candidate) is not None:
                return candidate
        return ""

    def classify_error(self, error: Mapping[str, Any], body: Mapping[str, Any]) -> Outcome:
        """The outcome of an ``error_response`` object."""
        code, sub_code = text(error.get("code")), text(error.get("sub_code"))
        msg, sub_msg = text(error.get("msg")), text(error.get("sub_msg"))
        return self.classify(
            self.rule_key(code, sub_code),
            code=code,
            sub_code=sub_code,
            message=join_message(msg, sub_msg),
            raw=body,
            retry_after=ban_seconds(f"{sub_msg} {msg}"),
        )
