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

Example
-------
>>> adapter = TaobaoMiniappAdapter()
>>> adapter.limits.max_bytes, adapter.limits.title_max
(3145728, 50)
>>> adapter.api_params(Job(target="3000000012345", filename="白色T恤.jpg"))
{'miniapp_id': '3000000012345', 'file_name': '白色T恤'}
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from imgkit.errors import Category
from imgkit.platforms.base import (
    CodeRule,
    CodeTable,
    Job,
    Limits,
    OptionSpec,
    Outcome,
    text,
)
from imgkit.platforms.top import GATEWAY_CODES, TopAdapter

METHOD = "taobao.miniapp.trade.picture.upload"
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

_MISSING_MODEL = CodeRule(
    Category.UNKNOWN, False, "平台返回成功但没有图片信息", "success without picture data"
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

    key = "taobao_miniapp"
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

    def retry_safe(self, job: Job) -> bool:
        """Only a ``pic_id`` above 0 replaces (0 or less uploads a new picture)."""
        replace_id = job.option("replace_id")
        return replace_id.isdigit() and int(replace_id) > 0

    def api_params(self, job: Job) -> dict[str, str]:
        """``miniapp_id``, ``file_name`` (always) and ``pic_id`` when replacing."""
        title = job.option("title") or PurePath(job.filename).stem or job.filename
        params = {"miniapp_id": job.target, "file_name": title}
        if job.option("replace_id"):
            params["pic_id"] = job.option("replace_id")
        return params

    def parse_success(self, root: dict[str, Any], body: dict[str, Any]) -> Outcome:
        """``result.success`` true with a model path is success; false is classified."""
        result = root.get("result")
        if not isinstance(result, dict):
            return Outcome.failure(
                _NO_SUCCESS_FLAG, code="no_result", message="response without result", raw=body
            )
        success = _flag(result.get("success"))
        model = result.get("model")
        if success and isinstance(model, dict) and text(model.get("path")):
            return Outcome(
                ok=True, url=text(model["path"]), image_id=text(model.get("pic_id")), raw=model
            )
        if success:
            return Outcome.failure(
                _MISSING_MODEL, code="no_model", message="success without model.path", raw=body
            )
        if success is None:
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
