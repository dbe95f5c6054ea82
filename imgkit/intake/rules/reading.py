"""Rules on reading a row's file: a path no system opens, and what probing found.

Paths with control characters or longer than the system opens are refused before probing
(:func:`unprobeable`); the probe's own problems (:data:`imgkit.intake.probe.PROBE_ERRORS`)
are each a rule, declared with their words in :data:`PROBE_WORDS`.

Example
-------
>>> unprobeable(pd.Series(["/a/b.jpg", "/a/" + chr(0) + ".jpg", "/" + "x" * 300])).tolist()
[False, True, True]
>>> sorted(PROBE_WORDS) == sorted(PROBE_ERRORS)
True
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from imgkit.intake.probe import PROBE_ERRORS
from imgkit.intake.rules.context import Context
from imgkit.intake.rules.core import Check, Rule, register, rule, written
from imgkit.intake.texts import as_str

# What no path or URL holds: NUL (the OS refuses it) and other control characters (a
# newline or tab pasted with the cell).  Checked before probing, which could not open them.
CONTROL_CHARACTERS = r"[\x00-\x1f\x7f-\x9f]"
_CONTROL = re.compile(CONTROL_CHARACTERS)
# Longer than Linux and macOS open: a path of 4096 bytes, a name of 255 (URLs: the path).
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


def unprobeable(files: pd.Series) -> pd.Series:
    """Paths no probe should try: control characters, or longer than the system opens.

    Parameters
    ----------
    files
        The ``file`` column (paths or URLs), as text.

    Returns
    -------
    pandas.Series
        True where :func:`bad_path` or :func:`path_too_long` holds; validation probes only
        the other rows.

    Examples
    --------
    >>> unprobeable(pd.Series(["/a/b.jpg", "/a/" + chr(0) + ".jpg", "/" + "x" * 300])).tolist()
    [False, True, True]
    """
    return _control(files) | _too_long(files)


def _control(files: pd.Series) -> pd.Series:
    # (Python's re, value by value: validation asks for each distinct file once.)
    found = [_CONTROL.search(v) is not None for v in as_str(files).tolist()]
    return pd.Series(found, index=files.index, dtype=bool)


def _too_long(files: pd.Series) -> pd.Series:
    # A UTF-8 character is at most 4 bytes: only names over 63 characters can be too long.
    found = [len(v) > MAX_NAME_BYTES // 4 and _over_limits(v) for v in as_str(files).tolist()]
    return pd.Series(found, index=files.index, dtype=bool)


def _over_limits(value: str) -> bool:
    if len(value.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return True
    if "://" in value:
        return False  # a URL's segments are not file names
    return any(
        len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in value.split("/")
    )


@rule(
    "bad_path",
    severity="error",
    zh="路径包含空字符或控制字符",
    en="path contains a NUL byte or control characters",
)
def bad_path(ctx: Context) -> pd.Series:
    """The path holds a NUL byte or a control character (a pasted newline, a tab)."""
    found: pd.Series = ctx.once(
        "control", lambda: ctx.per_value("file", _CONTROL.search, dtype=object).notna()
    )
    return found


def path_length_detail(ctx: Context) -> pd.Series:
    """The path's length and its longest name's, in bytes (only long paths are measured)."""
    files = as_str(ctx.frame["file"])
    out = pd.Series("", index=files.index, dtype=object)
    suspect = files.str.len() > MAX_NAME_BYTES // 4
    if suspect.any():
        texts = [_lengths(value, ctx) for value in files[suspect].tolist()]
        out.loc[suspect] = np.array(texts, dtype=object)
    return out


def _lengths(value: str, ctx: Context) -> str:
    path = len(value.encode("utf-8", "surrogatepass"))
    name = max(len(part.encode("utf-8", "surrogatepass")) for part in value.split("/"))
    zh = f"路径 {path} 字节,最长的名称 {name} 字节"
    en = f"path {path} bytes, longest name {name} bytes"
    return f"({ctx.say(zh, en)}; {ctx.say('上限', 'limit')} {MAX_PATH_BYTES}/{MAX_NAME_BYTES})"


@rule(
    "path_too_long",
    severity="error",
    zh=f"路径过长(超过 {MAX_PATH_BYTES} 字节,或文件名超过 {MAX_NAME_BYTES} 字节)",
    en=f"path too long (over {MAX_PATH_BYTES} bytes, or a name over {MAX_NAME_BYTES} bytes)",
    detail=path_length_detail,
)
def path_too_long(ctx: Context) -> pd.Series:
    """The path is longer than the system opens (4096 bytes, or a name over 255 bytes)."""
    too_long = ctx.per_value("file", lambda v: len(v) > MAX_NAME_BYTES // 4 and _over_limits(v))
    return too_long.astype(bool) & ~bad_path(ctx)


# The probe's problems, in the order they are checked: code → (Chinese, English).
PROBE_WORDS: dict[str, tuple[str, str]] = {
    "missing_file": ("文件不存在", "file not found"),
    "unreadable_file": ("文件无法读取", "file cannot be read"),
    "not_regular_file": (
        "不是普通文件(文件夹、设备或管道)",
        "not a regular file (a folder, device or pipe)",
    ),
    "file_too_large": ("文件超过 64 MiB,未读取", "larger than imgkit reads (64 MiB); not read"),
    "empty_file": ("文件为空", "file is empty"),
    "download_failed": ("图片地址无法下载", "the image URL could not be downloaded"),
    "not_image": ("文件不是图片", "not an image"),
    "corrupt_image": ("图片已损坏或不完整", "corrupt or truncated image"),
    "decompression_bomb": (
        "图片像素过多(疑似解压炸弹)",
        "too many pixels (a decompression bomb?)",
    ),
}
if set(PROBE_WORDS) != set(PROBE_ERRORS):  # pragma: no cover - a declaration error
    raise ValueError("every probe error needs its words in PROBE_WORDS, and no other code")


def _probe_rule(code: str) -> Check:
    def check(ctx: Context) -> pd.Series:
        return ctx.frame["probe_error"] == code

    check.__name__ = check.__qualname__ = code
    check.__doc__ = f"Probing the file found: {code}."
    return check


def file_detail(ctx: Context) -> pd.Series:
    """The file as written (or that the cell is empty): which file the probe could not read."""
    return "(" + written(ctx, "file", ctx.col("file")) + ")"


def _register_probe_rules() -> tuple[Rule, ...]:
    return tuple(
        register(Rule(code, "error", False, zh, en, _probe_rule(code), file_detail))
        for code, (zh, en) in PROBE_WORDS.items()
    )


PROBE_RULES = _register_probe_rules()
