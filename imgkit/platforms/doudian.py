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

from imgkit.errors import ImgkitError
from imgkit.platforms import forms
from imgkit.platforms.base import (
    CHOICE_FALLBACK,
    LOOKUP_SETTLES,
    Adapter,
    CredentialSpec,
    Job,
    Limits,
    Lookup,
    OptionSpec,
    Outcome,
    PlatformDeclaration,
    as_int,
    bool_text,
    text,
)

# CODES is re-exported: the code table is part of this platform's public face.
from imgkit.platforms.doudian_answers import CODES as CODES
from imgkit.platforms.doudian_answers import (
    MISSING_LIST,
    join_message,
    listing,
    material_outcome,
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

    declaration = PlatformDeclaration(
        "doudian",
        # Names analysts write in the platform column (case, spaces, dashes ignored).
        aliases=("抖店素材", "抖店", "抖音", "抖音小店", "douyin"),
        lookup=True,
        poll=True,
    )
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
            return forms.form(self.url(shop), self._signed(shop, now, params))
        content_type = _CONTENT_TYPES.get(job.fmt or "", "application/octet-stream")
        files = {"file": (job.filename, job.data, content_type)}
        return forms.request(self.url(shop), self._signed(shop, now, params), files)

    def build_poll_request(self, pending_id: str, shop: Shop, *, now: float) -> httpx.Request:
        """The signed detail query (``material_id``) for a material still under audit.

        >>> from imgkit.intake.shops import make_shop
        >>> shop = make_shop("dy", {"platform": "doudian", "appid": "a", "app_secret": "s",
        ...                         "seller_nick": "1"})
        >>> DoudianAdapter().build_poll_request("744", shop, now=0).url.path
        '/gateway/dd/material/querymaterialdetail'
        """
        fields = self._signed(shop, now, {"material_id": pending_id})
        return forms.form(self.url(shop, DETAIL_PATH), fields)

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
        return forms.form(self.url(shop, SEARCH_PATH), self._signed(shop, now, params))

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
            return material_outcome(body)
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
            return Outcome.failure(MISSING_LIST, code=code, message="code 0 without data", raw=body)
        return listing(data.get("material_info_list"), as_int(data.get("total")))

    def _refused(self, body: Mapping[str, Any]) -> Outcome:
        code = text(body.get("code"))
        sub_code = text(body.get("sub_code"))
        message = join_message(text(body.get("message")), text(body.get("sub_msg")))
        return self.classify(
            sub_code, code, code=code, sub_code=sub_code, message=message, raw=body
        )
