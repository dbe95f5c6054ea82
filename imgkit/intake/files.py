"""Reading a file imgkit was given: regular files only, never more than a cap.

A batch names files by path, and a path can be anything: a folder, ``/dev/zero``, a named
pipe (whose reader blocks until a writer comes), a sparse file of a terabyte.  Only regular
files are read; a pipe swapped in after the check cannot block the read (the file is opened
non-blocking and checked again through its descriptor); and no more than the cap is ever
read, so that a huge file costs one ``stat``.  Validation reads up to :data:`READ_CAP`
(fitting may shrink a big original); the engine reads a row's file up to its platform's
largest upload.

Example
-------
>>> read_capped("/dev/zero", 10)
Refused(error='not_regular_file', size=0)
"""

from __future__ import annotations

import os
import stat
from typing import NamedTuple

from imgkit.errors import Category, ImgkitError

# Fitting may shrink a big original, so this is not any platform's limit: only what is
# worth holding in memory to probe and hash.
READ_CAP = 64 * 1024 * 1024
# A FIFO swapped in after the stat must not block open(); regular files ignore the flag.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class Refused(NamedTuple):
    """Why a file was not read: a probe error code (``missing_file``, ``unreadable_file``,
    ``not_regular_file``, ``file_too_large``) and, when too large, its size (a lower bound).
    """

    error: str
    size: int = 0


def refusal(info: os.stat_result, limit: int) -> Refused | None:
    """Why a file with ``info`` is not read, or None (a folder stays ``unreadable_file``).

    >>> refusal(os.stat("/dev/null"), 10)
    Refused(error='not_regular_file', size=0)
    """
    if stat.S_ISDIR(info.st_mode):
        return Refused("unreadable_file")
    if not stat.S_ISREG(info.st_mode):
        return Refused("not_regular_file")
    if info.st_size > limit:
        return Refused("file_too_large", info.st_size)
    return None


def stat_or_refusal(path: str, limit: int) -> os.stat_result | Refused:
    """``os.stat`` of ``path``, or why it is not read (never raises).

    >>> stat_or_refusal("no/such/file", 10)
    Refused(error='missing_file', size=0)
    >>> stat_or_refusal("a" + chr(0) + "b", 10).error  # an embedded NUL byte
    'unreadable_file'
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return Refused("missing_file")
    except (OSError, ValueError):  # no permission, a name too long, an embedded NUL byte
        return Refused("unreadable_file")
    return refusal(info, limit) or info


def read_capped(path: str, limit: int) -> bytes | Refused:
    """The bytes of the regular file ``path`` if it has at most ``limit``, else why not
    (the size of a too-large file comes from its metadata, never from reading it).

    >>> read_capped("/dev/null", 10).error
    'not_regular_file'
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return Refused("missing_file")
    except (OSError, ValueError):
        return Refused("unreadable_file")
    try:
        # One fstat through the descriptor (what was opened, not what the path names now)
        # and plain reads: no buffered file object over a file read once, whole.
        info = os.fstat(fd)
        refused = refusal(info, limit)
        if refused is not None:
            return refused
        data = _read_to(fd, min(info.st_size, limit) + 1, limit)
        if len(data) > limit:
            return Refused("file_too_large", len(data))
        return data
    except OSError:  # e.g. EISDIR on read, an I/O error
        return Refused("unreadable_file")
    finally:
        os.close(fd)


def _read_to(fd: int, want: int, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``fd``: ``want`` (its size and one byte more, which
    tells a file that grew since) in one read as a rule, then on to the limit if it grew.
    Unbuffered: one system call where a buffered reader makes several, and no objects."""
    parts: list[bytes] = []
    got, size = 0, want - 1
    while got < want:
        chunk = os.read(fd, want - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
        if got == want:  # one more byte than the size said: it grew, read on to the limit
            want = limit + 1
        elif got == size:
            # All its size said and not the byte more that was asked for: its end (a
            # regular file reads short only there), without a second read to see it.
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


_MESSAGES = {
    "missing_file": ("no such file", "文件不存在"),
    "unreadable_file": ("it cannot be read", "文件无法读取"),
    "not_regular_file": ("not a regular file (a device, pipe or socket)", "不是普通文件"),
}


def read_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of a regular file with at most ``limit`` bytes.

    Never blocks on a pipe and never reads more than ``limit + 1`` bytes.  Raises
    :class:`imgkit.errors.ImgkitError` with code ``unreadable_file`` (missing, no
    permission, a folder, a bad name), ``not_regular_file`` or ``file_too_large``.

    >>> try:
    ...     read_file("/dev/zero", 10)
    ... except ImgkitError as exc:
    ...     print(exc.code)
    not_regular_file
    """
    name = os.fspath(path)
    got = read_capped(name, limit)
    if isinstance(got, bytes):
        return got
    if got.error == "file_too_large":
        raise ImgkitError(
            f"cannot read {name}: it has {got.size} bytes or more, over the limit of {limit} "
            f"/ 无法读取文件 {name}:超过 {limit} 字节上限",
            category=Category.TOO_LARGE,
            code="file_too_large",
        )
    en, zh = _MESSAGES[got.error]
    code = "unreadable_file" if got.error == "missing_file" else got.error
    raise ImgkitError(f"cannot read {name}: {en} / 无法读取文件 {name}:{zh}", code=code)
