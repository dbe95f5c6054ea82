"""A coroutine run to completion from synchronous code, in or out of a running loop.

``upload``, ``retry_failed``, ``refresh`` and ``verify`` are synchronous calls over
asynchronous work; inside Jupyter a loop is already running, so the work gets a private
loop in a worker thread, and Ctrl-C in the calling thread cancels it (its partial result
is returned).

Example
-------
>>> import asyncio
>>> async def empty():
...     return pd.DataFrame()
>>> run_sync(empty).empty
True
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pandas as pd


def run_sync(make: Callable[[], Coroutine[Any, Any, pd.DataFrame]]) -> pd.DataFrame:
    """Run a coroutine to completion from sync code, in or out of a running loop.

    The coroutine runs on a private loop in a worker thread; Ctrl-C (or a Jupyter kernel
    interrupt) in the calling thread cancels it, and its partial result is returned.  A
    second Ctrl-C ends the grace period for requests on the wire.

    >>> import asyncio
    >>> async def frame():
    ...     await asyncio.sleep(0)
    ...     return pd.DataFrame({"status": ["uploaded"]})
    >>> run_sync(frame)["status"].tolist()
    ['uploaded']
    """
    box: dict[str, Any] = {}
    ready = threading.Event()
    done = threading.Event()

    def worker() -> None:
        loop = asyncio.new_event_loop()
        try:
            coroutine: Coroutine[Any, Any, pd.DataFrame] = make()
            box["task"] = task = loop.create_task(coroutine)
            box["loop"] = loop
            ready.set()
            box["result"] = loop.run_until_complete(task)
        except BaseException as exc:  # handed to the calling thread below
            box["error"] = exc
        finally:
            ready.set()
            loop.close()
            done.set()

    thread = threading.Thread(target=worker, name="imgkit-upload", daemon=True)
    thread.start()
    # Wait on an Event, not Thread.join(): a KeyboardInterrupt inside join() leaves the
    # thread looking finished on some CPython versions, and we would return too early.
    while True:
        try:
            while not done.wait(0.1):
                pass
            break
        except KeyboardInterrupt:
            ready.wait()
            if "task" in box and not done.is_set():
                box["loop"].call_soon_threadsafe(box["task"].cancel)
    if "error" in box:
        raise box["error"]
    result: pd.DataFrame = box["result"]
    return result


__all__ = ["run_sync"]
