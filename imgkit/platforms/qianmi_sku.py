"""Qianmi open platform: add or replace a SKU image (``qianmi_sku``).

``POST {base}/api?method=qianmi.cloudshop.sku.image.upload&v=1.1&appKey=…&timestamp=…
&format=json&access_token=…&sign=…`` with the business parameters form-urlencoded in the
body; the image travels as ``image=<ext>@<base64>``.  ``sign`` = uppercase
SHA-1(secret + k1v1k2v2… + secret) over every parameter but ``sign``, empty values and
``file``/``image``/``logo`` (see :func:`sign`); ``timestamp`` is Beijing time (GMT+8)
whatever the machine's zone.

The target names the SKU as ``<num_iid>/<sku_id>``, e.g. ``18353/g1234``.

An unanswered upload is settled by the look-up ``qianmi.cloudshop.sku.images.get`` (a
sandbox convention, ``docs/lookups.md``): every image of the SKU (at most 5), sent and
signed as the upload, answered as ``sku_images_get_response.sku_imgs.sku_img``.

Example
-------
>>> adapter = QianmiSkuAdapter()
>>> adapter.limits.max_bytes, sorted(adapter.limits.formats), list(adapter.limits.positions)
(1048576, ['gif', 'jpeg', 'png'], [0, 1, 2, 3, 4])
>>> split_target("18353/g1234")
('18353', 'g1234')
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import httpx

from imgkit.errors import Category, ImgkitError
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
    candidates_of,
    first_object,
    listed,
    text,
)

# CODES is re-exported: the code table is part of this platform's public face.
from imgkit.platforms.qianmi_sku_answers import CODES as CODES
from imgkit.platforms.qianmi_sku_answers import MISSING_LIST, error_fields, error_object

if TYPE_CHECKING:
    from imgkit.intake.shops import Shop

METHOD = "qianmi.cloudshop.sku.image.upload"
LOOKUP_METHOD = "qianmi.cloudshop.sku.images.get"
LOOKUP_ROOT = "sku_images_get_response"
VERSION = "1.1"
FIELDS = "id,url,position,created"
UNSIGNED = frozenset({"sign", "file", "image", "logo"})
BEIJING = timezone(timedelta(hours=8), "GMT+8")
_EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif"}


def sign(params: Mapping[str, str], secret: str) -> str:
    """QMOP's signature: uppercase SHA-1(secret + k1v1… + secret), names in byte order.

    ``sign``, ``file``, ``image``, ``logo`` and empty values are left out.

    >>> sign({"access_token": "tok", "appKey": "10001234", "fields": "id,url,position,created",
    ...       "format": "json", "method": "qianmi.cloudshop.sku.image.upload", "num_iid": "g1",
    ...       "position": "0", "sku_id": "s1", "timestamp": "2024-01-01 12:00:00", "v": "1.1",
    ...       "image": "jpg@AAAA"}, "testsecret")
    '6EDA89AC820C4B8F0D3671DAA06E26F73031A04B'
    """
    names = sorted((k for k, v in params.items() if v and k not in UNSIGNED), key=str.encode)
    joined = "".join(k + params[k] for k in names)
    return hashlib.sha1((secret + joined + secret).encode()).hexdigest().upper()


def beijing_time(now: float) -> str:
    """``now`` (epoch seconds) as ``yyyy-MM-dd HH:mm:ss`` in GMT+8, whatever the local zone.

    >>> beijing_time(1704081600)
    '2024-01-01 12:00:00'
    """
    return datetime.fromtimestamp(now, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def split_target(target: str) -> tuple[str, str]:
    """``"<num_iid>/<sku_id>"`` as ``(num_iid, sku_id)``, split on the first ``/``.

    Raises :class:`imgkit.errors.ImgkitError` (``invalid_input``) when a part is missing.

    >>> split_target(" 18353 / g1234 ")
    ('18353', 'g1234')
    >>> try:
    ...     split_target("18353")
    ... except ImgkitError as exc:
    ...     print(exc.category, exc.code)
    invalid_input bad_target
    """
    num_iid, slash, sku_id = target.partition("/")
    num_iid, sku_id = num_iid.strip(), sku_id.strip()
    if not (slash and num_iid and sku_id):
        raise ImgkitError(
            f"target {target!r} must be '<num_iid>/<sku_id>' (e.g. 18353/g1234) / "
            f"目标 {target!r} 应写作 '商品编号/sku编号'(例如 18353/g1234)",
            category=Category.INVALID_INPUT,
            code="bad_target",
        )
    return num_iid, sku_id


def image_param(job: Job) -> str:
    """``<ext>@<base64>`` for the job's bytes; the extension follows the content format.

    >>> image_param(Job("1/a", "a.png", data=b"\\x00\\x00\\x00", fmt="jpeg"))
    'jpg@AAAA'
    """
    fmt = job.fmt or job.filename.rpartition(".")[2].lower() or "jpeg"
    ext = _EXTENSIONS.get(fmt, fmt)
    return ext + "@" + base64.b64encode(job.data or b"").decode("ascii")


class QianmiSkuAdapter(Adapter):
    """Qianmi cloud shop SKU images (``qianmi.cloudshop.sku.image.upload``).

    >>> from imgkit.intake.shops import make_shop
    >>> shop = make_shop("qm", {"platform": "qianmi_sku", "app_key": "1", "app_secret": "s",
    ...                         "access_token": "t"})
    >>> request = QianmiSkuAdapter().build_request(
    ...     Job("18353/g1234", "mug.jpg", data=b"\\xff\\xd8\\xff", fmt="jpeg"), shop, now=0)
    >>> request.url.params["method"], request.url.params["timestamp"]
    ('qianmi.cloudshop.sku.image.upload', '1970-01-01 08:00:00')
    """

    declaration = PlatformDeclaration(
        "qianmi_sku",
        # Names analysts write in the platform column (case, spaces, dashes ignored).
        aliases=("千米sku", "千米", "千米sku图片", "qianmi"),
        lookup=True,
        replace=True,
    )
    title = "Qianmi cloud shop SKU images (QMOP)"
    default_base_url = "https://api.qianmi.com"
    path = "/api"
    limits = Limits(
        max_bytes=1024 * 1024,
        formats=frozenset({"jpeg", "png", "gif"}),
        positions=range(5),
        # The page: "图片顺序,默认0": without a position an image goes to 0, and a position
        # another image of the SKU holds is refused (01030043).
        default_position=0,
        images_per_target=5,
    )
    target_pattern = r"[^/\s]+/[^/\s]+"
    target_meaning = (
        "the SKU as `<num_iid>/<sku_id>` (item number, a slash, SKU number), e.g. "
        "`18353/g1234`; split on the first `/`"
    )
    options = (
        OptionSpec(
            "position",
            "image order 0–4 (`position`; the platform's default is 0, and two images of one "
            "SKU cannot share a position)",
            kind="int",
        ),
        OptionSpec(
            "replace_id",
            "`img_id` of an image of this SKU to replace (give its `position` too: without "
            "one the image moves to 0)",
        ),
    )
    credentials = CredentialSpec(
        required=("app_key", "app_secret", "access_token"),
        secret=frozenset({"app_secret", "access_token"}),
        # The app, and the seller's authorization: only the token names the seller.
        identity=("app_key", "access_token"),
    )
    codes = CODES
    unanswered_policy = (
        "an unanswered upload is settled by a look-up (`qianmi.cloudshop.sku.images.get`: "
        f"the SKU's images): {LOOKUP_SETTLES}; see docs/lookups.md. "
        f"{CHOICE_FALLBACK.capitalize()}. A row that replaces by id (`replace_id`) is simply "
        "re-sent, which is idempotent"
    )

    # --- the upload ---------------------------------------------------------------------------

    def build_request(self, job: Job, shop: Shop, *, now: float, token: str = "") -> httpx.Request:
        """System parameters in the query string, business parameters in a form body.

        Raises :class:`imgkit.errors.ImgkitError` (``invalid_input``) for a target that is
        not ``<num_iid>/<sku_id>``.
        """
        num_iid, sku_id = split_target(job.target)
        business = {
            "num_iid": num_iid,
            "sku_id": sku_id,
            "fields": FIELDS,
            "image": image_param(job) if job.data is not None else "",
            "img_id": job.option("replace_id"),
            "position": job.option("position"),
        }
        return self._signed(METHOD, business, shop, now=now, token=token)

    def build_lookup_request(
        self, job: Job, shop: Shop, *, now: float, token: str = ""
    ) -> httpx.Request:
        """Every image of the job's SKU, sent and signed as the upload.

        Raises :class:`imgkit.errors.ImgkitError` (``invalid_input``) for a target that is
        not ``<num_iid>/<sku_id>``.

        >>> from imgkit.intake.shops import make_shop
        >>> shop = make_shop("qm", {"platform": "qianmi_sku", "app_key": "1",
        ...                         "app_secret": "s", "access_token": "t"})
        >>> request = QianmiSkuAdapter().build_lookup_request(Job("18353/g1234", "a.jpg"),
        ...                                                   shop, now=0)
        >>> request.url.params["method"], request.content.decode().split("&")[:2]
        ('qianmi.cloudshop.sku.images.get', ['num_iid=18353', 'sku_id=g1234'])
        """
        num_iid, sku_id = split_target(job.target)
        business = {"num_iid": num_iid, "sku_id": sku_id, "fields": FIELDS}
        return self._signed(LOOKUP_METHOD, business, shop, now=now, token=token)

    def _signed(
        self, method: str, business: Mapping[str, str], shop: Shop, *, now: float, token: str
    ) -> httpx.Request:
        system = {
            "method": method,
            "v": VERSION,
            "appKey": shop.get("app_key"),
            "timestamp": beijing_time(now),
            "format": "json",
            "access_token": token or shop.get("access_token"),
        }
        fields = {k: v for k, v in business.items() if v}
        system["sign"] = sign({**system, **fields}, shop.get("app_secret"))
        return forms.form(forms.with_query(self.url(shop), system), fields)

    # --- answers ------------------------------------------------------------------------------

    def parse_response(self, response: httpx.Response) -> Outcome:
        """``sku_img`` in the first object-valued root member; errors in either shape.

        >>> r = httpx.Response(200, json={"sku_image_upload_response": {"sku_img": {
        ...     "id": 5, "url": "http://i/5.jpg", "position": 0}}},
        ...     request=httpx.Request("POST", "http://x"))
        >>> out = QianmiSkuAdapter().parse_response(r)
        >>> out.ok, out.image_id, out.url
        (True, '5', 'http://i/5.jpg')
        """
        body = self._body_or_failure(response)
        if isinstance(body, Outcome):
            return body
        answer = first_object(body)
        if answer is None or not response.is_success:
            return self.judge_status(response)
        image = answer.get("sku_img")
        if isinstance(image, dict) and text(image.get("url")):
            return Outcome(
                ok=True, url=text(image["url"]), image_id=text(image.get("id")), raw=image
            )
        image_id = text(image.get("id")) if isinstance(image, dict) else ""
        return self.details_missing("an answer without sku_img.url", body, image_id)

    def _body_or_failure(self, response: httpx.Response) -> dict[str, Any] | Outcome:
        """The answer's JSON object, or its failure (either error shape) classified."""
        body = self.read_json(response)
        if isinstance(body, Outcome):
            return body
        error = error_object(body)
        if error is None:
            return body
        code, sub_code, message = error_fields(error)
        return self.classify(
            sub_code, code, code=code, sub_code=sub_code, message=message, raw=body
        )

    def parse_lookup_response(self, response: httpx.Response) -> Lookup | Outcome:
        """``sku_imgs.sku_img`` and ``total_results``; errors in either shape, as the upload's.

        The SKU's whole list comes in one answer, so it is complete unless ``total_results``
        says there are more than listed (or an entry cannot be read).

        >>> r = httpx.Response(200, json={"sku_images_get_response": {"sku_imgs": {"sku_img": [
        ...     {"id": "7", "url": "http://i/7.jpg", "position": 1}]}, "total_results": 1}},
        ...     request=httpx.Request("POST", "http://x"))
        >>> found = QianmiSkuAdapter().parse_lookup_response(r)
        >>> found.complete, found.candidates[0].image_id, found.candidates[0].position
        (True, '7', 1)
        """
        body = self._body_or_failure(response)
        if isinstance(body, Outcome):
            return body
        root = body.get(LOOKUP_ROOT)
        answer = root if isinstance(root, dict) else first_object(body)
        if answer is None or not response.is_success:
            return self.judge_status(response)
        images = listed(answer.get("sku_imgs"), "sku_img")
        total = answer.get("total_results")
        if images is None and as_int(total) != 0:
            return Outcome.failure(
                MISSING_LIST, code="no_sku_imgs", message="an answer without sku_imgs", raw=body
            )
        found, readable = candidates_of(images or [], id_key="id", url_key="url")
        count = as_int(total)
        # An absent total is no doubt (the list is the SKU's whole list); a stated or
        # unreadable one must not exceed what was listed.
        complete = readable and (total is None or (count is not None and count <= len(found)))
        return Lookup(found, complete)
