"""vv-tool's documented error answers (``taobao_picture``), as data.

Codes and Chinese messages follow the official page; the 401/429 bodies are a sandbox
convention.  :mod:`imgkit.sandbox.taobao_picture` raises from this catalogue;
``docs/sandbox-errors.md`` is generated from it.

Example
-------
>>> FAILURES["shop_unauthorized"].code
302
"""

from __future__ import annotations

from imgkit.sandbox.failures import Failure, catalogue

_BAD = "请求参数错误"

FAILURES = catalogue(
    Failure(
        "unauthorized",
        401,
        "未授权",
        http_status=401,
        source="choice",
        trigger="no `Authorization: Bearer` header, or an unknown or expired token (past "
        "`expires_in`, or expired with `POST /_sandbox/expire`), whatever the body holds",
    ),
    Failure(
        "rate_limited",
        429,
        "请求过于频繁",
        http_status=429,
        source="choice",
        trigger="more than 10 requests in one second with one token, or fault `rate_limited`",
    ),
    Failure(
        "missing_param",
        100,
        _BAD + ":{name}不能为空",
        trigger="leave out `shop_id`, `picture_category_id`, `img` or `image_input_title` "
        "(the look-up: `shop_id`)",
    ),
    Failure(
        "bad_paging",
        100,
        _BAD + ":{name}取值无效",
        source="choice",
        trigger="look-up: `page_no` below 1, `page_size` outside 1–100, or either not a "
        "whole number",
    ),
    Failure(
        "malformed_body",
        100,
        _BAD + ":请求体无法解析",
        trigger="a body that is not valid multipart/form-data or form-urlencoded, sent with "
        "a good token (the token is judged first)",
    ),
    Failure(
        "bad_category",
        100,
        _BAD + ":图片分类不存在",
        trigger="a `picture_category_id` the shop does not have (sbx_tb_shop_1 has 0 and "
        "1657717355974335419; other shops only 0)",
    ),
    Failure("too_large", 100, _BAD + ":图片大小不能超过3M", trigger="an `img` over 3 MB"),
    Failure(
        "bad_format",
        100,
        _BAD + ":图片格式只支持png、jpg、gif",
        trigger="an `img` whose content is not PNG/JPEG/GIF (e.g. WEBP, BMP, text), "
        "whatever its file name",
    ),
    Failure(
        "corrupt_image",
        100,
        _BAD + ":图片文件已损坏,无法识别",
        trigger="a PNG/JPEG/GIF that cannot be decoded (truncated or corrupt)",
    ),
    Failure(
        "bad_client_type",
        100,
        _BAD + ":client_type 只能为 client:computer 或 client:phone",
        trigger="any other `client_type` value",
    ),
    Failure(
        "phone_dimensions",
        100,
        _BAD + ":client:phone 图片宽度须在480-620之间,高度不能超过960",
        trigger="`client_type=client:phone` with width outside 480–620 or height over 960",
    ),
    Failure("timeout", 101, "请求超时,请重试", trigger="fault `transient`"),
    Failure("account_missing", 103, "旺旺账号不存在", trigger="a `shop_id` vv-tool does not know"),
    Failure(
        "system_error",
        200,
        "系统错误,请联系客服",
        trigger='forced: `{"force": [{"platform": "taobao_picture", "error": "system_error"}]}`',
    ),
    Failure("unsupported", 203, "暂不支持当前接口", trigger="`vvtype` missing or not 2"),
    Failure(
        "method_not_allowed",
        203,
        "暂不支持当前接口",
        source="choice",
        trigger="any HTTP method but POST (GET, PUT, DELETE…) on the upload, look-up or token path",
    ),
    Failure(
        "no_permission",
        204,
        "请求异常:无该接口权限,请前往官网开通正式接口。",
        trigger="token `sbx-vv-token-noperm`",
    ),
    Failure(
        "no_credit",
        204,
        "请求异常:API 调用次数不足,请前往网站兑换次数。",
        trigger="token `sbx-vv-token-nocredit`",
    ),
    Failure(
        "shop_unauthorized",
        302,
        "未授权店铺",
        trigger="a known shop the token's client was not authorized for (`sbx_tb_shop_other`); "
        "`data.url` is the authorization link (a sandbox page, `GET /tool/erps/authorize`)",
    ),
    Failure(
        "token_bad_grant",
        100,
        _BAD + ":grant_type 只支持 client_credentials",
        trigger="token endpoint: `grant_type` other than client_credentials",
    ),
    Failure(
        "token_bad_client",
        401,
        "未授权",
        http_status=401,
        source="choice",
        trigger="token endpoint: unknown `client_id` or wrong `client_secret`",
    ),
)
