"""Taobao picture space through the vv-tool gateway (``taobao_picture``).

``POST {base}/tool/erps/tbpicture``, multipart, ``Authorization: Bearer <token>``; no
signature.  A shop holds an ``access_token``, or ``client_id`` + ``client_secret`` for the
client-credentials endpoint ``POST {base}/api/proxy/oauth/token`` (the token is then
fetched once and cached by the caller: see :meth:`TaobaoPictureAdapter.token_request`).

An unanswered upload is settled by the look-up ``POST {base}/tool/erps/tbpicture/get`` (a
sandbox convention modelled on TOP's ``taobao.picture.get``, ``docs/lookups.md``): the
shop's pictures in the upload's category with the title the upload would be stored under.

Example
-------
>>> adapter = TaobaoPictureAdapter()
>>> adapter.limits.max_bytes, sorted(adapter.limits.formats)
(3145728, ['gif', 'jpeg', 'png'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from imgkit.errors import Category, ImgkitError
from imgkit.platforms import forms
from imgkit.platforms.base import (
    CHOICE_FALLBACK,
    LOOKUP_SETTLES,
    Adapter,
    CodeRule,
    CodeTable,
    CredentialSpec,
    Job,
    Limits,
    Lookup,
    OptionSpec,
    Outcome,
    PixelRule,
    PlatformDeclaration,
    as_int,
    bool_text,
    default_title,
    listed,
    paged_lookup,
    text,
    title_filter,
)

if TYPE_CHECKING:
    from imgkit.intake.shops import Shop

TOKEN_PATH = "/api/proxy/oauth/token"
LOOKUP_PATH = "/tool/erps/tbpicture/get"
# The look-up's largest page (docs/lookups.md): one page lists every match in normal cases.
PAGE_SIZE = 100
_CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif"}
_CLIENT_TYPES = {"computer": "client:computer", "phone": "client:phone"}


def _rule(category: Category, retryable: bool, zh: str, en: str) -> CodeRule:
    return CodeRule(category, retryable, zh, en)


# Code 100 covers every bad parameter; its message says which (refined in _refine_100).
CODES = CodeTable(
    {
        "100": _rule(Category.INVALID_INPUT, False, "请求参数错误", "bad request parameters"),
        "101": _rule(Category.TRANSIENT, True, "请求超时,请重试", "the gateway timed out; retry"),
        "103": _rule(
            Category.NOT_FOUND, False, "旺旺账号不存在", "the shop account does not exist"
        ),
        "200": _rule(Category.TRANSIENT, True, "vv-tool 系统错误", "vv-tool system error"),
        "203": _rule(Category.INVALID_INPUT, False, "暂不支持当前接口", "API not supported"),
        "204": _rule(Category.PERMISSION, False, "无该接口权限", "no permission for this API"),
        "204:quota": _rule(Category.QUOTA, False, "API 调用次数不足", "API call credit used up"),
        "302": _rule(Category.PERMISSION, False, "店铺未授权", "the shop has not authorized"),
        "401": _rule(Category.AUTH, False, "token 无效或已过期", "token invalid or expired"),
        "429": _rule(Category.RATE_LIMITED, True, "请求过于频繁", "too many requests"),
        "100:too_large": _rule(Category.TOO_LARGE, False, "图片超过3M", "image over 3 MB"),
        "100:bad_format": _rule(
            Category.BAD_FORMAT, False, "图片格式不支持或已损坏", "unsupported or corrupt image"
        ),
        "100:bad_dimensions": _rule(
            Category.BAD_DIMENSIONS,
            False,
            "手机图片宽度须在480-620之间、高度不超过960",
            "phone images need width 480-620 and height <= 960",
        ),
    }
)

# Words of the platform's code-100 messages that name the cause (category only; never
# used to decide a retry: code 100 is never retried).
_CAUSES_100 = (
    ("bad_dimensions", ("client:phone", "宽度", "高度", "480")),
    ("too_large", ("大小", "3M", "太大")),
    ("bad_format", ("格式", "损坏", "无法识别")),
)


def _refine(code: str, msg: str) -> str:
    if code == "100":
        for cause, words in _CAUSES_100:
            if any(word in msg for word in words):
                return f"100:{cause}"
    if code == "204" and "次数" in msg:
        return "204:quota"
    return code


class TaobaoPictureAdapter(Adapter):
    """Taobao picture space via vv-tool."""

    declaration = PlatformDeclaration(
        "taobao_picture",
        # Names analysts write in the platform column (case, spaces, dashes ignored).
        aliases=("淘宝图片空间", "图片空间", "淘宝图片", "taobao", "tbpicture", "vvtool"),
        lookup=True,
        token=True,
    )
    title = "Taobao picture space (vv-tool gateway)"
    default_base_url = "http://api.vv-tool.com"
    path = "/tool/erps/tbpicture"
    limits = Limits(
        max_bytes=3 * 1024 * 1024,
        formats=frozenset({"jpeg", "png", "gif"}),
        title_max=50,
        title_cut=True,
        title_dedup=True,
        pixel_rules=(
            PixelRule(
                when=("client_type", "client:phone"),
                min_width=480,
                max_width=620,
                max_height=960,
                zh="手机图片宽度须在480-620之间,高度不超过960",
                en="phone images need width 480-620 and height <= 960",
            ),
        ),
        rate_per_s=10.0,
    )
    target_meaning = "picture category id (`picture_category_id`); `0` is the default category"
    options = (
        OptionSpec("title", "picture title; cut to 50 characters, '(1)' added on a clash"),
        OptionSpec(
            "client_type",
            "`client:computer` (default) or `client:phone` (width 480-620, height <= 960); "
            "`computer` and `phone` are accepted",
            kind="choice",
            choices=("client:computer", "client:phone"),
        ),
        OptionSpec("is_https", "ask for an https picture URL", kind="bool"),
    )
    credentials = CredentialSpec(
        required=("shop_id",),
        alternatives=((("access_token",), ("client_id", "client_secret")),),
        secret=frozenset({"access_token", "client_secret"}),
        identity=("shop_id",),  # vv-tool's id of the Taobao shop
    )
    codes = CODES
    unanswered_policy = (
        "an unanswered upload is settled by a look-up (`POST /tool/erps/tbpicture/get`: the "
        f"shop's pictures in the category with the upload's title): {LOOKUP_SETTLES}; see "
        f"docs/lookups.md. {CHOICE_FALLBACK.capitalize()}. vv-tool has no replace-by-id, and "
        "a blind re-send would store a second picture (renamed '(1)')"
    )

    # --- tokens -----------------------------------------------------------------------------

    def token_request(self, shop: Shop) -> httpx.Request | None:
        """The client-credentials request, or None when the shop has an access token."""
        if shop.has("access_token"):
            return None
        return forms.form(
            self.url(shop, TOKEN_PATH),
            {
                "grant_type": "client_credentials",
                "client_id": shop.get("client_id"),
                "client_secret": shop.get("client_secret"),
            },
        )

    def parse_token_response(self, response: httpx.Response) -> tuple[str, float]:
        """``(access_token, expires_in seconds)``; raises ImgkitError (auth) when refused."""
        body = self.read_json(response)
        if isinstance(body, Outcome):
            raise ImgkitError(
                f"vv-tool's token endpoint answered {body.code}: {body.message} / "
                "vv-tool 令牌接口返回异常",
                category=body.category or Category.UNKNOWN,
                code=body.code,
            )
        data = body.get("data")
        if body.get("code") != 0 or not isinstance(data, dict):
            raise ImgkitError(
                f"vv-tool refused the client credentials: {body.get('msg', '')} / "
                "vv-tool 拒绝了客户端凭证",
                category=Category.AUTH,
                code=text(body.get("code")),
            )
        raw = data.get("expires_in")
        lifetime = 0 if raw is None or raw == "" else as_int(raw)  # absent: ask every time
        token = text(data.get("access_token"))
        if not token or lifetime is None or not 0 <= lifetime < 10**9:
            raise ImgkitError(
                f"vv-tool's token answer has no usable access_token / expires_in: {data!r:.100} "
                "/ vv-tool 令牌接口的回应缺少有效的 access_token 或 expires_in",
                category=Category.UNKNOWN,
                code="bad_token_answer",
            )
        return token, float(lifetime)

    # --- the upload ---------------------------------------------------------------------------

    def build_request(self, job: Job, shop: Shop, *, now: float, token: str = "") -> httpx.Request:
        """Multipart upload of ``job`` with the shop's token (or ``token`` when fetched)."""
        bearer = token or shop.get("access_token")
        client_type = job.option("client_type")
        fields: dict[str, str] = {
            "shop_id": shop.get("shop_id"),
            "picture_category_id": job.target or "0",
            "image_input_title": job.filename,
            "vvtype": "2",
        }
        if job.option("title"):
            fields["title"] = job.option("title")
        if client_type:
            fields["client_type"] = _CLIENT_TYPES.get(client_type.lower(), client_type)
        if job.option("is_https"):
            fields["is_https"] = bool_text(job.option("is_https"))
        content_type = _CONTENT_TYPES.get(job.fmt or "", "application/octet-stream")
        files = {"img": (job.filename, job.data or b"", content_type)}
        return forms.request(self.url(shop), fields, files, {"Authorization": f"Bearer {bearer}"})

    def build_lookup_request(
        self, job: Job, shop: Shop, *, now: float, token: str = ""
    ) -> httpx.Request:
        """The shop's pictures that the upload of ``job`` could have stored (form-urlencoded).

        Filtered by the upload's category and by its title as the platform stores it: the
        ``title`` option, else ``image_input_title`` without its extension, cut to 50
        characters, a trailing "(n)" left out (:func:`imgkit.platforms.base.title_filter`).

        >>> from imgkit.intake.shops import make_shop
        >>> shop = make_shop("tb", {"platform": "taobao_picture", "shop_id": "111",
        ...                         "access_token": "tok"})
        >>> request = TaobaoPictureAdapter().build_lookup_request(
        ...     Job("0", "白色T恤(1).jpg"), shop, now=0)
        >>> fields = dict(httpx.QueryParams(request.content.decode()))
        >>> request.url.path, fields["title"], fields["page_size"], fields["vvtype"]
        ('/tool/erps/tbpicture/get', '白色T恤', '100', '2')
        """
        bearer = token or shop.get("access_token")
        fields = {
            "shop_id": shop.get("shop_id"),
            "vvtype": "2",
            "title": title_filter(default_title(job), self.limits.title_max),
            "picture_category_id": job.target or "0",
            "page_no": "1",
            "page_size": str(PAGE_SIZE),
        }
        return forms.form(
            self.url(shop, LOOKUP_PATH),
            {k: v for k, v in fields.items() if v},
            {"Authorization": f"Bearer {bearer}"},
        )

    def parse_lookup_response(self, response: httpx.Response) -> Lookup | Outcome:
        """``data.picture_get_response``: its pictures and ``total_results``; else classified.

        >>> r = httpx.Response(200, json={"code": 0, "msg": "success", "data": {
        ...     "picture_get_response": {"pictures": {"picture": []}, "total_results": 0}}},
        ...     request=httpx.Request("POST", "http://x"))
        >>> TaobaoPictureAdapter().parse_lookup_response(r)
        Lookup(candidates=(), complete=True, pending=False)
        """
        body = self.read_coded(response, "code")
        if isinstance(body, Outcome):
            return body
        code = text(body.get("code"))
        if code != "0":
            msg = text(body.get("msg"))
            return self.classify(_refine(code, msg), code, code=code, message=msg, raw=body)
        data = body.get("data")
        answer = data.get("picture_get_response") if isinstance(data, dict) else None
        if not isinstance(answer, dict):
            return Outcome.failure(
                _MISSING_LIST, code=code, message="code 0 without picture_get_response", raw=body
            )
        return paged_lookup(
            listed(answer.get("pictures"), "picture"),
            answer.get("total_results"),
            id_key="picture_id",
            url_key="picture_path",
            size_key="sizes",
            title_key="title",
        )

    def parse_response(self, response: httpx.Response) -> Outcome:
        """``code`` 0 with a picture is success; anything else is classified."""
        body = self.read_coded(response, "code")
        if isinstance(body, Outcome):
            return body
        code = text(body.get("code"))
        msg = text(body.get("msg"))
        picture = _picture(body)
        if code == "0" and picture is not None and picture.get("picture_path"):
            return Outcome(
                ok=True,
                url=text(picture["picture_path"]),
                image_id=text(picture.get("picture_id")),
                raw=picture,
            )
        if code == "0":
            image_id = text(picture.get("picture_id")) if picture is not None else ""
            return self.details_missing("code 0 without a picture", body, image_id)
        return self.classify(_refine(code, msg), code, code=code, message=msg, raw=body)


_MISSING_LIST = CodeRule(
    Category.UNKNOWN, False, "平台返回成功但没有图片列表", "success without the picture list"
)


def _picture(body: dict[str, Any]) -> dict[str, Any] | None:
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    response = data.get("picture_upload_response")
    picture = response.get("picture") if isinstance(response, dict) else None
    return picture if isinstance(picture, dict) else None
