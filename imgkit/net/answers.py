"""What every wire shares about an answer: its cap, the limits a request carries to a
transport, the error for an answer too large, and a body handed on in pieces.

Example
-------
>>> import httpx
>>> request = httpx.Request("GET", "http://x.test/", extensions={CAP_KEY: 10})
>>> cap_of(request), isinstance(AnswerTooLarge(10, request=request), httpx.ReadError)
(10, True)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

# No platform answer comes near this (their JSON answers are a few KB); a bigger one is a
# proxy's or an attacker's, and is not read into memory.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
# Request extensions through which Sender hands its limits to a transport that enforces
# them itself (imgkit.net.wire), so that it can tell a connect phase from a read phase.
DEADLINE_KEY = "imgkit.deadline_s"
CAP_KEY = "imgkit.max_answer_bytes"
# Raw bytes are handed on in pieces this big, so that decoding a compressed answer never
# inflates more than one piece at a time before the cap is checked.
_PIECE = 16 * 1024


class AnswerTooLarge(httpx.ReadError):
    """An answer bigger than the cap: reading stopped and the connection was closed.

    A ``ReadError``, so the adapters treat it as "may have been stored" (the request left).

    >>> AnswerTooLarge(5, request=httpx.Request("GET", "http://x.test/")).limit
    5
    """

    def __init__(self, limit: int, *, request: httpx.Request) -> None:
        super().__init__(
            f"the answer is larger than {limit} bytes; reading stopped", request=request
        )
        self.limit = limit


def cap_of(request: httpx.Request) -> int | None:
    """The answer cap Sender put on ``request`` (None: no cap).

    >>> cap_of(httpx.Request("GET", "http://x.test/")) is None
    True
    """
    cap: int | None = request.extensions.get(CAP_KEY)
    return cap


def too_large(response: httpx.Response, limit: int) -> bool:
    """Whether ``response`` announces more than ``limit`` bytes (Content-Length).

    >>> too_large(httpx.Response(200, headers={"Content-Length": "11"}), 10)
    True
    """
    length = response.headers.get("content-length", "")
    return length.isdigit() and int(length) > limit


class Pieces(httpx.AsyncByteStream):
    """An answer already read, handed on in small pieces (see ``_PIECE``).

    >>> import asyncio
    >>> async def count():
    ...     return len([piece async for piece in Pieces(b"x" * 40_000)])
    >>> asyncio.run(count())
    3
    """

    def __init__(self, content: bytes) -> None:
        self.content = content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.content), _PIECE):
            yield self.content[start : start + _PIECE]


__all__ = [
    "CAP_KEY",
    "DEADLINE_KEY",
    "MAX_ANSWER_BYTES",
    "AnswerTooLarge",
    "Pieces",
    "cap_of",
    "too_large",
]
