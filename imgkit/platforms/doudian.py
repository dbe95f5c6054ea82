"""Douyin shop material centre through the fw199 gateway (``doudian``).

``POST {base}/gateway/dd/material/uploadimagesync`` with the public parameters ``appid``,
``timestamp`` (Unix seconds), ``seller_nick`` and ``sign`` = lowercase
MD5(secret + k1v1k2v2… + secret) over every text parameter but ``sign``, empty values
included (see :func:`sign`).  A local file goes multipart with an unsigned part ``file``;
an http(s) source goes form-urlencoded as ``url``, fetched by the platform itself.

Uploads are audited: ``audit_status`` 1/2 is ``audit_pending`` (poll the detail query
``…/material/querymaterialdetail`` with :meth:`DoudianAdapter.build_poll_request`),
3 is success with ``byte_url``, 4 is ``audit_rejected``.

An unanswered upload is looked up (``docs/lookups.md``) with ``…/material/searchMaterial``:
the seller's photos in the upload's folder under the upload's name.  Only materials that
passed their audit have a ``byte_url`` to compare; one still under audit makes the
:class:`~imgkit.platforms.base.Lookup` ``pending`` (ask again later).

Example
-------
>>> adapter = DoudianAdapter()
>>> adapter.limits.max_bytes, sorted(adapter.limits.formats), adapter.accepts_url_source
(10485760, ['jpeg', 'png'], True)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from imgkit.errors import Category, ImgkitError
from imgkit.platforms.base import (
    CHOICE_FALLBACK,
    LOOKUP_SETTLES,
    Adapter,
    Candidate,
    CodeRule,
    CodeTable,
    CredentialSpec,
    Job,
    Limits,
    Lookup,
    OptionSpec,
    Outcome,
    as_int,
    bool_text,
    details_missing,
    text,
)

if TYPE_CHECKING:
    from imgkit.intake.shops import Shop

DETAIL_PATH = "/gateway/dd/material/querymaterialdetail"
SEARCH_PATH = "/gateway/dd/material/searchMaterial"
# Douyin's searchMaterial pages hold at most 100 materials; one page of the upload's name
# in its folder holds every copy in practice, and a longer listing is reported incomplete.
SEARCH_PAGE_SIZE = 100
TITLE_MAX = 50
_CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}


def _rule(category: Category, retryable: bool, zh: str, en: str) -> CodeRule:
    return CodeRule(category, retryable, zh, en)


# Sub-codes are looked up before main codes (see _key).  fw199 answers business failures
# with main code 50002 and the Douyin sub-code ``isv.business-failed:<n>``.
CODES = CodeTable(
    {
        # Main codes.
        "40003": _rule(Category.AUTH, False, "签名或时间戳校验失败", "signature check failed"),
        "40004": _rule(Category.INVALID_INPUT, False, "参数错误", "bad request parameters"),
        "50002": _rule(Category.UNKNOWN, False, "业务处理失败", "business processing failed"),
        "20000": _rule(Category.TRANSIENT, True, "服务不可用,稍后重试", "service unavailable"),
        "20001": _rule(Category.TRANSIENT, True, "服务繁忙,稍后重试", "service busy"),
        "30001": _rule(Category.PERMISSION, False, "应用无该接口权限", "app lacks API permission"),
        "30002": _rule(
            Category.PERMISSION, False, "店铺未授权给当前应用", "shop has not authorized the app"
        ),
        "60000": _rule(Category.RATE_LIMITED, True, "调用频率超限", "call frequency exceeded"),
        # Sub-codes.
        "isv.signature-invalid": _rule(
            Category.AUTH, False, "签名错误,请检查 appid 和密钥", "invalid signature"
        ),
        "isv.timestamp-invalid": _rule(
            Category.INVALID_INPUT,
            False,
            "时间戳无效,请校准本机时钟",
            "timestamp invalid or over 600 s off; check the clock",
        ),
        "isv.parameter-invalid:20001": _rule(
            Category.BAD_FORMAT, False, "图片无法解析,仅支持png/jpg", "unreadable image (png/jpg)"
        ),
        "isv.business-failed:22001": _rule(
            Category.TOO_LARGE, False, "图片大小超过10M", "image over 10 MB"
        ),
        "isv.business-failed:22006": _rule(
            Category.INVALID_INPUT,
            False,
            "该文件夹不支持上传图片",
            "the folder does not take images",
        ),
        "isv.business-failed:22007": _rule(
            Category.AUDIT_REJECTED, False, "素材内容违规", "the content violates platform rules"
        ),
        # The engine retries this one once at most: a URL that failed twice stays failed.
        "isv.business-failed:10010": _rule(
            Category.TRANSIENT, True, "图片下载失败", "the platform could not download the URL"
        ),
        "isv.business-failed:30001": _rule(Category.QUOTA, False, "素材空间已满", "library full"),
        "isv.business-failed:30004": _rule(
            Category.PERMISSION, False, "无素材中心权限", "no material centre permission"
        ),
        # The same material is still being processed: a retry would race it.
        "isv.business-failed:31001": _rule(
            Category.INVALID_INPUT,
            False,
            "重复请求,相同素材正在处理中",
            "duplicate request; the same material is in progress",
        ),
        "isv.parameter-invalid:*": _rule(
            Category.INVALID_INPUT, False, "参数不合法", "invalid parameter"
        ),
        "isp.*": _rule(Category.TRANSIENT, True, "平台服务错误,稍后重试", "platform service error"),
    }
)

_AUDIT_PENDING = _rule(
    Category.AUDIT_PENDING, False, "素材审核中,稍后查询", "under audit; query it later"
)
_AUDIT_REJECTED = _rule(Category.AUDIT_REJECTED, False, "素材审核未通过", "the audit rejected it")
_ODD_AUDIT = _rule(
    Category.UNKNOWN, False, "无法识别的审核状态", "an audit status imgkit does not know"
)
_MISSING_LIST = _rule(
    Category.UNKNOWN, False, "平台返回成功但没有素材列表", "success without a material list"
)


def sign(params: Mapping[str, str], secret: str) -> str:
    """fw199's signature: lowercase MD5(secret + k1v1… + secret), names in byte order.

    Every parameter given is signed, empty ones included; leave out ``sign`` and files.

    >>> sign({"appid": "testappid", "folder_id": "0", "material_name": "a.jpg",
    ...       "need_distinct": "false", "seller_nick": "38173182",
    ...       "timestamp": "1700000000", "url": "https://example.com/a.jpg"}, "testsecret")
    'ea356406a02fb73188e45cf0c445b2ec'
    """
    joined = "".join(k + params[k] for k in sorted(params, key=lambda k: k.encode()))
    return hashlib.md5((secret + joined + secret).encode()).hexdigest()


def material_name(job: Job) -> str:
    """The ``material_name``: the ``title`` option, else the file name cut to 50 characters.

    A title is sent as written (validation checks its length); a long file name keeps its
    extension.

    >>> material_name(Job("0", "x" * 60 + ".jpg"))[-6:], len(material_name(Job("0", "x" * 60)))
    ('xx.jpg', 50)
    >>> material_name(Job("0", "a.jpg", options={"title": "白色马克杯"}))
    '白色马克杯'
    """
    title = job.option("title")
    if title:
        return title
    name = job.filename
    if len(name) <= TITLE_MAX:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and stem and len(ext) < 6:
        return stem[: TITLE_MAX - len(ext) - 1] + "." + ext
    return name[:TITLE_MAX]


class DoudianAdapter(Adapter):
    """Douyin shop material centre via fw199.

    >>> from imgkit.intake.shops import make_shop
    >>> shop = make_shop("dy", {"platform": "doudian", "appid": "a", "app_secret": "s",
    ...                         "seller_nick": "38173182"})
    >>> request = DoudianAdapter().build_request(
    ...     Job("0", "mug.jpg", data=b"\\xff\\xd8\\xff", fmt="jpeg"), shop, now=1700000000)
    >>> request.url.path, request.headers["content-type"].split(";")[0]
    ('/gateway/dd/material/uploadimagesync', 'multipart/form-data')
    """

    key = "doudian"
    title = "Douyin shop material centre (fw199 gateway)"
    default_base_url = "https://kf.fw199.com"
    path = "/gateway/dd/material/uploadimagesync"
    limits = Limits(
        max_bytes=10 * 1024 * 1024,
        formats=frozenset({"jpeg", "png"}),
        title_max=TITLE_MAX,
    )
    target_meaning = "material folder id (`folder_id`); `0` is the root folder"
    options = (
        OptionSpec(
            "title", "material name (`material_name`), at most 50 characters; default the file name"
        ),
        OptionSpec(
            "need_distinct",
            "`true`: an identical image already approved is returned instead of a new copy",
            kind="bool",
        ),
    )
    credentials = CredentialSpec(
        required=("appid", "app_secret", "seller_nick"),
        secret=frozenset({"app_secret"}),
        identity=("appid", "seller_nick"),
    )
    codes = CODES
    # The seed page: 99% of images pass their audit within 4 s; need_distinct finds a copy
    # only once it has passed.  (The engine's wait; the settle's look-up follows the audit.)
    retry_settle_s = 5.0
    unanswered_policy = (
        "an unanswered upload is settled by a look-up (`POST /gateway/dd/material/"
        "searchMaterial`: the seller's photos in the folder with the upload's name); a "
        "matching material still under audit cannot be compared yet, so the look-up is "
        f"asked again until its audit ends or the audit wait runs out: {LOOKUP_SETTLES}; "
        f"see docs/lookups.md. {CHOICE_FALLBACK.capitalize()}. With `need_distinct=true` a "
        "re-send returns the approved material instead of storing a copy, so such rows "
        "are also safe to send again once the first copy has passed its audit"
    )
    accepts_url_source = True

    # --- requests ---------------------------------------------------------------------------

    def _signed(self, shop: Shop, now: float, params: Mapping[str, str]) -> dict[str, str]:
        fields = {
            "appid": shop.get("appid"),
            "timestamp": str(int(now)),
            "seller_nick": shop.get("seller_nick"),
            **params,
        }
        fields["sign"] = sign(fields, shop.get("app_secret"))
        return fields

    def build_request(self, job: Job, shop: Shop, *, now: float, token: str = "") -> httpx.Request:
        """Multipart (``file``) for bytes, form-urlencoded (``url``) for a source URL.

        Raises :class:`imgkit.errors.ImgkitError` (``invalid_input``) when the job has
        neither.
        """
        params = {
            "folder_id": job.target.strip() or "0",
            "material_name": material_name(job),
            "need_distinct": bool_text(job.option("need_distinct")),
        }
        if job.data is None:
            if not job.source_url:
                raise ImgkitError(
                    "nothing to upload: no file data and no source URL / "
                    "没有图片数据也没有图片地址",
                    code="no_image",
                )
            params["url"] = job.source_url
            return httpx.Request("POST", self.url(shop), data=self._signed(shop, now, params))
        content_type = _CONTENT_TYPES.get(job.fmt or "", "application/octet-stream")
        return httpx.Request(
            "POST",
            self.url(shop),
            data=self._signed(shop, now, params),
            files={"file": (job.filename, job.data, content_type)},
        )

    def build_poll_request(self, pending_id: str, shop: Shop, *, now: float) -> httpx.Request:
        """The signed detail query (``material_id``) for a material still under audit.

        >>> from imgkit.intake.shops import make_shop
        >>> shop = make_shop("dy", {"platform": "doudian", "appid": "a", "app_secret": "s",
        ...                         "seller_nick": "1"})
        >>> DoudianAdapter().build_poll_request("744", shop, now=0).url.path
        '/gateway/dd/material/querymaterialdetail'
        """
        fields = self._signed(shop, now, {"material_id": pending_id})
        return httpx.Request("POST", self.url(shop, DETAIL_PATH), data=fields)

    def build_lookup_request(
        self, job: Job, shop: Shop, *, now: float, token: str = ""
    ) -> httpx.Request:
        """The seller's photos the upload of ``job`` could have stored (form-urlencoded).

        Signed as the upload; filtered by the upload's ``material_name`` and ``folder_id``,
        first page of :data:`SEARCH_PAGE_SIZE`.  ``token`` is unused (fw199 signs instead).

        >>> from imgkit.intake.shops import make_shop
        >>> shop = make_shop("dy", {"platform": "doudian", "appid": "a", "app_secret": "s",
        ...                         "seller_nick": "1"})
        >>> request = DoudianAdapter().build_lookup_request(Job("0", "杯子.jpg"), shop, now=0)
        >>> fields = dict(httpx.QueryParams(request.content.decode()))
        >>> request.url.path, fields["material_name"], fields["folder_id"], fields["page_size"]
        ('/gateway/dd/material/searchMaterial', '杯子.jpg', '0', '100')
        """
        params = {
            "material_name": material_name(job),
            "folder_id": job.target.strip() or "0",
            "material_type": "photo",
            "page_num": "1",
            "page_size": str(SEARCH_PAGE_SIZE),
        }
        return httpx.Request(
            "POST", self.url(shop, SEARCH_PATH), data=self._signed(shop, now, params)
        )

    def retry_safe(self, job: Job) -> bool:
        """True with ``need_distinct``: the platform then returns the copy it already has.

        >>> DoudianAdapter().retry_safe(Job("0", "a.jpg", options={"need_distinct": "是"}))
        True
        """
        return super().retry_safe(job) or bool_text(job.option("need_distinct")) == "true"

    # --- answers ----------------------------------------------------------------------------

    def parse_response(self, response: httpx.Response) -> Outcome:
        """Upload and detail answers alike: ``code`` 0 by audit status, else classified.

        >>> r = httpx.Response(200, json={"code": 0, "data": {"material_id": "7",
        ...     "audit_status": 2}}, request=httpx.Request("POST", "http://x"))
        >>> out = DoudianAdapter().parse_response(r)
        >>> out.ok, out.category, out.pending_id
        (False, <Category.AUDIT_PENDING: 'audit_pending'>, '7')
        """
        body = self.read_coded(response, "code")
        if isinstance(body, Outcome):
            return body
        if text(body.get("code")) == "0":
            return _material_outcome(body)
        return self._refused(body)

    def parse_lookup_response(self, response: httpx.Response) -> Lookup | Outcome:
        """``data.material_info_list`` and ``data.total``; a failure classified as an upload's.

        Materials that passed their audit (3, with ``byte_url``) are the candidates; one
        waiting or under audit (1, 2) or not yet downloaded (``operate_status`` 0) makes the
        look-up ``pending``; a rejected one (4) is no candidate: it holds nothing usable
        and the platform deletes it.

        >>> r = httpx.Response(200, json={"code": 0, "data": {"total": 2, "material_info_list": [
        ...     {"material_id": "7", "byte_url": "http://i/7", "audit_status": 3},
        ...     {"material_id": "8", "byte_url": "", "audit_status": 1}]}},
        ...     request=httpx.Request("POST", "http://x"))
        >>> found = DoudianAdapter().parse_lookup_response(r)
        >>> [c.image_id for c in found.candidates], found.complete, found.pending
        (['7'], True, True)
        """
        body = self.read_coded(response, "code")
        if isinstance(body, Outcome):
            return body
        code = text(body.get("code"))
        if code != "0":
            return self._refused(body)
        data = body.get("data")
        if not isinstance(data, dict):
            return Outcome.failure(
                _MISSING_LIST, code=code, message="code 0 without data", raw=body
            )
        return _listing(data.get("material_info_list"), as_int(data.get("total")))

    def _refused(self, body: Mapping[str, Any]) -> Outcome:
        code = text(body.get("code"))
        sub_code = text(body.get("sub_code"))
        message = _join(text(body.get("message")), text(body.get("sub_msg")))
        return self.classify(
            sub_code, code, code=code, sub_code=sub_code, message=message, raw=body
        )


def _listing(items: Any, total: int | None) -> Lookup:
    """The :class:`Lookup` of one searchMaterial page (``total`` counts every match)."""
    if items is None and total == 0:
        return Lookup((), complete=True)
    if not isinstance(items, list):
        return Lookup((), complete=False)
    found: list[Candidate] = []
    readable, pending = True, False
    for item in items:
        if not isinstance(item, dict) or not text(item.get("material_id")):
            readable = False
            continue
        status, url = _audit_status(item), text(item.get("byte_url"))
        if status in (1, 2) or as_int(item.get("operate_status")) == 0:
            pending = True
        elif status == 3 and url:
            # The listed size is no byte count (the seed's sizes are whole KB, the SDK says
            # KB): the bytes alone decide, so the candidate carries no size.
            name = text(item.get("material_name")) or text(item.get("materil_name"))
            found.append(Candidate(text(item["material_id"]), url, title=name))
        elif status != 4:  # passed without an address, or a status imgkit does not know
            readable = False
    complete = readable and total is not None and total <= len(items)
    return Lookup(tuple(found), complete, pending)


def _join(message: str, detail: str) -> str:
    if message and detail and detail != message:
        return f"{message}: {detail}"
    return detail or message


def _material(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """``data.material_info``, or a flat ``data`` holding the material fields."""
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    info = data.get("material_info")
    if isinstance(info, dict):
        return info
    return data if "material_id" in data else None


def _audit_status(info: Mapping[str, Any]) -> int | None:
    try:
        return int(text(info.get("audit_status")))
    except ValueError:
        return None


def _material_outcome(body: Mapping[str, Any]) -> Outcome:
    info = _material(body)
    material_id = text(info.get("material_id")) if info else ""
    if info is None or not material_id:
        return details_missing("code 0 without material_info", body)
    status = _audit_status(info)
    byte_url = text(info.get("byte_url"))
    if status == 3 and byte_url:
        return Outcome(ok=True, url=byte_url, image_id=material_id, audit_status=3, raw=info)
    if status == 3:  # passed, yet no address: stored, details missing
        return details_missing("audit passed without byte_url", info, material_id)
    if status in (1, 2):
        return Outcome.failure(
            _AUDIT_PENDING,
            code="0",
            message=f"audit_status {status}",
            raw=info,
            pending_id=material_id,
            audit_status=status,
        )
    if status == 4:
        return Outcome.failure(
            _AUDIT_REJECTED,
            code="0",
            message=text(info.get("audit_reject_desc")),
            raw=info,
            audit_status=4,
        )
    return Outcome.failure(
        _ODD_AUDIT,
        code="0",
        message=f"audit_status {info.get('audit_status')!r}, byte_url {byte_url!r}",
        raw=info,
        audit_status=status,
    )
