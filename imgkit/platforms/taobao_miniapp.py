"""Taobao mini-app pictures through TOP ``taobao.miniapp.trade.picture.upload``.

Platform key ``taobao_miniapp``.  ``POST {base}/router/rest`` with the TOP system
parameters in the query string (see :mod:`imgkit.platforms.top`) and ``miniapp_id`` (the
target), ``file_name`` (the title: required, so the file name without its extension when
no title is given), ``pic_id`` (replace that picture) and the file part ``bytes`` in a
multipart body.  The platform cuts titles to 50 characters and adds "(1)" on a clash.

Success is ``miniapp_trade_picture_upload_response.result`` with ``success`` true and a
``model {pic_id, path, ...}``.  Content problems come in that same ``result`` as
``success`` false with a numeric ``err_code`` (2001–2005, a sandbox convention: see
``docs/sandbox-errors.md``) — with no ``error_response``, so ``success`` is always checked.

An unanswered upload is settled by the look-up ``taobao.miniapp.trade.picture.get`` (a
sandbox convention, ``docs/lookups.md``): the mini-app's pictures titled as the upload's
``file_name`` would have been stored, with ``total`` and the same ``result`` envelope.

Example
-------
>>> adapter = TaobaoMiniappAdapter()
>>> adapter.limits.max_bytes, adapter.limits.title_max
(3145728, 50)
>>> adapter.api_params(Job(target="3000000012345", filename="白色T恤.jpg"))
{'miniapp_id': '3000000012345', 'file_name': '白色T恤'}
>>> adapter.lookup_params(Job(target="3000000012345", filename="白色T恤(1).jpg"))
{'miniapp_id': '3000000012345', 'file_name': '白色T恤', 'page_no': '1', 'page_size': '100'}
"""

from __future__ import annotations

from typing import Any

from imgkit.errors import Category
from imgkit.platforms.base import (
    CHOICE_FALLBACK,
    LOOKUP_SETTLES,
    CodeRule,
    CodeTable,
    Job,
    Limits,
    Lookup,
    OptionSpec,
    Outcome,
    PlatformDeclaration,
    default_title,
    listed,
    paged_lookup,
    text,
    title_filter,
)
from imgkit.platforms.top import GATEWAY_CODES, TopAdapter

METHOD = "taobao.miniapp.trade.picture.upload"
LOOKUP_METHOD = "taobao.miniapp.trade.picture.get"
# The look-up's largest page (docs/lookups.md): one page lists every match in normal cases.
PAGE_SIZE = 100
# Prefix of the code-table keys of ``result.err_code`` (kept apart from gateway codes).
RESULT = "result:"


def _rule(category: Category, retryable: bool, zh: str, en: str) -> CodeRule:
    return CodeRule(category, retryable, zh, en)


# result.err_code values are a sandbox convention (the platform publishes none).
CODES = CodeTable(
    {
        RESULT + "2001": _rule(
            Category.NOT_FOUND,
            False,
            "小程序不存在或不属于当前应用",
            "no such mini-app for the app",
        ),
        RESULT + "2002": _rule(Category.TOO_LARGE, False, "图片大小不能超过3M", "image over 3 MB"),
        RESULT + "2003": _rule(
            Category.BAD_FORMAT, False, "图片格式只支持png、jpg、gif", "only png, jpg and gif"
        ),
        RESULT + "2004": _rule(
            Category.BAD_FORMAT, False, "文件不是有效的图片", "not a valid image"
        ),
        RESULT + "2005": _rule(
            Category.NOT_FOUND, False, "图片不存在,无法替换", "no picture with that pic_id"
        ),
        **GATEWAY_CODES,
    }
)

_NO_SUCCESS_FLAG = CodeRule(
    Category.UNKNOWN, False, "平台返回的结果无法识别", "result without a success flag"
)


def _flag(value: Any) -> bool | None:
    """``result.success`` as a bool (JSON true/false or their text), None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


class TaobaoMiniappAdapter(TopAdapter):
    """Pictures of a Taobao mini-app (light trade), added or replaced by ``pic_id``.

    >>> job = Job(target="3000000012345", filename="a.jpg", options={"replace_id": "0"})
    >>> TaobaoMiniappAdapter().retry_safe(job)
    False
    """

    declaration = PlatformDeclaration(
        "taobao_miniapp",
        # Names analysts write in the platform column (case, spaces, dashes ignored).
        aliases=("淘宝小程序", "小程序", "轻应用", "miniapp"),
        lookup=True,
        replace=True,
    )
    title = "Taobao mini-app pictures (TOP taobao.miniapp.trade.picture.upload)"
    method = METHOD
    file_part = "bytes"
    limits = Limits(
        max_bytes=3 * 1024 * 1024,
        formats=frozenset({"jpeg", "png", "gif"}),
        title_max=50,
        title_cut=True,
        title_dedup=True,
    )
    target_meaning = "mini-app id (`miniapp_id`)"
    options = (
        OptionSpec(
            "title",
            "picture title (`file_name`); the file name without extension when empty; "
            "cut to 50 characters, '(1)' added on a clash",
        ),
        OptionSpec("replace_id", "picture id to replace (`pic_id`, > 0)", kind="int"),
    )
    codes = CODES
    lookup_method = LOOKUP_METHOD
    unanswered_policy = (
        "an unanswered upload is settled by a look-up (`taobao.miniapp.trade.picture.get`: "
        f"the mini-app's pictures with the upload's title): {LOOKUP_SETTLES}; see "
        f"docs/lookups.md. {CHOICE_FALLBACK.capitalize()}. A row that replaces by id "
        "(`replace_id` > 0) is simply re-sent, which is idempotent"
    )

    def retry_safe(self, job: Job) -> bool:
        """Only a ``pic_id`` above 0 replaces (0 or less uploads a new picture)."""
        replace_id = job.option("replace_id")
        return replace_id.isdigit() and int(replace_id) > 0

    def api_params(self, job: Job) -> dict[str, str]:
        """``miniapp_id``, ``file_name`` (always) and ``pic_id`` when replacing."""
        params = {"miniapp_id": job.target, "file_name": default_title(job)}
        if job.option("replace_id"):
            params["pic_id"] = job.option("replace_id")
        return params

    def lookup_params(self, job: Job) -> dict[str, str]:
        """The mini-app's pictures whose title the upload of ``job`` could have been given.

        ``file_name`` filters by the upload's title as the platform stores it (cut to 50
        characters, a trailing "(n)" left out: see :func:`imgkit.platforms.base.title_filter`);
        one page of the largest size.
        """
        params = {
            "miniapp_id": job.target,
            "file_name": title_filter(default_title(job), self.limits.title_max),
            "page_no": "1",
            "page_size": str(PAGE_SIZE),
        }
        return {k: v for k, v in params.items() if v}

    def parse_success(self, root: dict[str, Any], body: dict[str, Any]) -> Outcome:
        """``result.success`` true with a model path is success; false is classified."""
        result = _result(root, body)
        if isinstance(result, Outcome):
            return result
        success = _flag(result.get("success"))
        model = result.get("model")
        if success and isinstance(model, dict) and text(model.get("path")):
            return Outcome(
                ok=True, url=text(model["path"]), image_id=text(model.get("pic_id")), raw=model
            )
        if success:
            image_id = text(model.get("pic_id")) if isinstance(model, dict) else ""
            return self.details_missing("success without model.path", body, image_id)
        return self.refusal(result, body)

    def parse_listing(self, root: dict[str, Any], body: dict[str, Any]) -> Lookup | Outcome:
        """``result.models.picture`` (upload models) and ``result.total``, or the refusal.

        >>> answer = {"result": {"success": True, "total": 1, "models": {"picture": [
        ...     {"pic_id": 9, "path": "http://i/9.jpg", "title": "杯子(1)", "sizes": 2048}]}}}
        >>> found = TaobaoMiniappAdapter().parse_listing(answer, {})
        >>> found.complete, found.candidates[0].image_id, found.candidates[0].size
        (True, '9', 2048)
        """
        result = _result(root, body)
        if isinstance(result, Outcome):
            return result
        if not _flag(result.get("success")):
            return self.refusal(result, body)
        pictures = listed(result.get("models"), "picture")
        return paged_lookup(
            pictures,
            result.get("total"),
            id_key="pic_id",
            url_key="path",
            size_key="sizes",
            title_key="title",
        )

    def refusal(self, result: dict[str, Any], body: dict[str, Any]) -> Outcome:
        """A ``result`` that is not a success: its ``err_code`` classified."""
        if _flag(result.get("success")) is None:
            return Outcome.failure(
                _NO_SUCCESS_FLAG, code="no_success", message=text(result.get("success")), raw=body
            )
        code = text(result.get("err_code"))
        return self.classify(
            RESULT + code if code else "",
            code=code,
            message=text(result.get("err_message")),
            raw=body,
        )


def _result(root: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | Outcome:
    """``root.result``, or the outcome saying it is missing."""
    result = root.get("result")
    if not isinstance(result, dict):
        return Outcome.failure(
            _NO_SUCCESS_FLAG, code="no_result", message="response without result", raw=body
        )
    return result
