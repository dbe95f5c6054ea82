"""Fitting many images at once: one :class:`Job` per distinct image, in worker processes.

Decoding and encoding hold the GIL for most of their time, so threads do not add cores:
:func:`run_jobs` hands the jobs to a :class:`~concurrent.futures.ProcessPoolExecutor`
(``forkserver`` where the platform has it, else ``spawn``; never ``fork``, which is unsafe
in a process with threads such as a Jupyter kernel).  Each worker runs :func:`work`, a
top-level function: it reads the file, fits it, stores the copy and records the outcome in
the cache's index itself, and sends back only a small :class:`~imgkit.intake.fit_cache.Outcome`.

- The pool is started once and kept for later calls (:func:`stop_workers` ends it); the
  forkserver preloads this module, so each worker starts with imgkit already imported.
- A worker keeps the memory of one image for the next: Pillow's image blocks
  (:data:`KEPT_BLOCKS`) and glibc's heap (:func:`keep_heap`), where fresh pages for every
  large buffer cost a fifth of the CPU of fitting a photo.  The caller's process is left
  as it was.
- The worker processes never re-run the caller's ``__main__``: a script without an
  ``if __name__ == "__main__":`` guard, or a notebook, calls ``fit`` like any function.
- A failing image is that row's ``fit_reason``: :func:`work` turns every exception into an
  outcome, and a worker that dies (a crash, the kernel's OOM killer) costs only its own
  image: the images in flight with it are run again, one at a time, so the one that kills
  its worker again is the one reported.
- Ctrl-C (``KeyboardInterrupt``) cancels the images not started and is raised again at
  once; the workers ignore it and finish the images they hold, whose copies land in the
  cache, so fitting again resumes where it stopped.

Example
-------
>>> outcomes = []
>>> run_jobs([], 2, lambda index, outcome: outcomes.append(outcome))
>>> outcomes, default_workers() >= 1
([], True)
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib
import multiprocessing
import os
import platform
import signal
import sys
import threading
import types
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import context as mp_context
from pathlib import Path

from PIL import Image

from imgkit.intake import fit_cache
from imgkit.intake.fit_cache import Outcome
from imgkit.intake.fit_core import fit_image
from imgkit.platforms import get_adapter

__all__ = ["Job", "default_workers", "run_jobs", "stop_workers", "work"]

DIED = "the process fitting this image stopped (a crash or out of memory) / 处理进程意外终止"


@dataclass(frozen=True)
class Job:
    """One image to fit for one destination: an absolute ``path``, the ``platform`` key,
    the row's ``options``, the absolute cache ``folder``, and the caller's
    ``Image.MAX_IMAGE_PIXELS`` (a worker does not share the caller's globals)."""

    path: str
    platform: str
    options: tuple[tuple[str, str], ...]
    folder: str
    max_pixels: int | None


def work(job: Job) -> Outcome:
    """Fit ``job``: the copy stored in its folder and recorded in the index, or the reason
    it cannot be; never raises for one image's sake.

    >>> import tempfile
    >>> from PIL import Image
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     Image.new("RGB", (64, 48), "red").save(f"{tmp}/red.webp")
    ...     job = Job(f"{tmp}/red.webp", "doudian", (), f"{tmp}/fit", Image.MAX_IMAGE_PIXELS)
    ...     first, again = work(job), work(job)
    ...     first.actions, first.copy.endswith(".jpg"), again.cached, again.copy == first.copy
    (('converted',), True, True, True)
    >>> work(Job("/nonexistent.jpg", "doudian", (), "/tmp", None)).reason
    'cannot read the file: No such file or directory / 无法读取文件'
    """
    try:
        data = Path(job.path).read_bytes()
    except OSError as exc:
        return Outcome(reason=f"cannot read the file: {exc.strerror} / 无法读取文件")
    try:
        limits = get_adapter(job.platform).limits
        options = dict(job.options)
        name = fit_cache.key(hashlib.sha256(data).hexdigest(), limits, options)
        found = fit_cache.lookup(job.folder, name)
        if found is not None:
            return found
        Image.MAX_IMAGE_PIXELS = job.max_pixels
        result = fit_image(data, limits, options)
        if not result.ok:
            outcome = Outcome(reason=result.reason)
        elif not result.changed:
            outcome = Outcome()
        else:
            copy = fit_cache.store(result.data, result.extension, job.folder)
            outcome = Outcome(str(copy), result.actions)
        fit_cache.record(job.folder, name, outcome)
        return outcome
    except Exception as exc:  # a bug or MemoryError on one image costs that image only
        return Outcome(reason=f"fitting failed: {type(exc).__name__}: {exc}")


def default_workers() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it).

    >>> default_workers() >= 1
    True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


# --- the pool ------------------------------------------------------------------------------


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """Starting a worker, show multiprocessing a bare ``__main__``: it then tells the new
    process to import nothing of the caller's, so a script without a ``__main__`` guard is
    not run again in every worker (the jobs name only imgkit's own functions)."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


#: Free 16 MB blocks of image memory a worker keeps for the next image (Pillow keeps none
#: by default, so every decode of a large photo faults its pages in afresh: a fifth of the
#: CPU time of fitting one, in the kernel).  At most this many times 16 MB stay held.
KEPT_BLOCKS = 12


#: glibc's ``malloc`` hands out every block above its threshold (at most 32 MB) as fresh
#: pages and gives freed memory at the top of the heap back at once, so libjpeg's buffers
#: for one large photo (a 3000x3000 optimized encode keeps 27 MB of coefficients) fault
#: their pages in again at every encode: 13,000 page faults and a fifth of the CPU time of
#: fitting such a photo, in the kernel.  A worker raises both thresholds to this: blocks
#: up to it come from the heap and stay there for the next encode, and at most this much
#: free memory stays held.
HEAP_KEPT = 128 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def _start_worker() -> None:
    """Workers leave Ctrl-C to the caller (a worker stopped mid-image would break the
    pool) and keep image memory for the next image."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    importlib.import_module("PIL._imaging").set_blocks_max(KEPT_BLOCKS)
    keep_heap()


def keep_heap(size: int = HEAP_KEPT) -> bool:
    """Have glibc's ``malloc`` in this process serve blocks up to ``size`` from the heap and
    keep up to ``size`` of freed memory (see :data:`HEAP_KEPT`); False where the C library
    is not glibc (the setting does not exist there) and nothing was changed.  Only worker
    processes call it: the caller's own process keeps its allocator as it was.

    >>> import platform, subprocess, sys
    >>> code = "from imgkit.intake.fit_pool import keep_heap; print(keep_heap())"
    >>> out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    >>> out.stdout.strip() == str(sys.platform == "linux" and platform.libc_ver()[0] == "glibc")
    True
    """
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, size)) and bool(mallopt(_M_TRIM_THRESHOLD, size))


class _SpawnWorker(mp_context.SpawnProcess):
    def start(self) -> None:
        with _main_hidden():
            super().start()


class _SpawnContext(mp_context.SpawnContext):
    Process = _SpawnWorker


if sys.platform != "win32":

    class _ForkServerWorker(mp_context.ForkServerProcess):
        def start(self) -> None:
            with _main_hidden():
                super().start()

    class _ForkServerContext(mp_context.ForkServerContext):
        Process = _ForkServerWorker


def _context() -> mp_context.BaseContext:
    if sys.platform != "win32" and "forkserver" in multiprocessing.get_all_start_methods():
        forkserver = _ForkServerContext()
        forkserver.set_forkserver_preload([__name__])
        return forkserver
    return _SpawnContext()


_LOCK = threading.Lock()
_POOLS: dict[int, ProcessPoolExecutor] = {}


def _executor(workers: int) -> ProcessPoolExecutor:
    """The kept pool of ``workers`` processes (one per size asked for: a pool another
    thread may be using is never shut down under it)."""
    with _LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_start_worker)
            _POOLS[workers] = pool
        return pool


def _discard(pool: ProcessPoolExecutor) -> None:
    with _LOCK:
        for size, kept in list(_POOLS.items()):
            if kept is pool:
                del _POOLS[size]
    pool.shutdown(wait=False, cancel_futures=True)


def stop_workers() -> None:
    """End the kept worker processes (the next fit starts new ones).

    >>> stop_workers()
    """
    with _LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


# --- running -------------------------------------------------------------------------------


Done = Callable[[int, Outcome], None]


def run_jobs(
    jobs: Sequence[Job], workers: int, done: Done, worker: Callable[[Job], Outcome] = work
) -> None:
    """Run every job, calling ``done(index, outcome)`` in this thread as each finishes.

    ``workers`` is the number of processes; 1 (or a single job) runs the jobs here, one
    after another.  ``worker`` is the function each job goes through (a top-level
    function, for the processes to import).
    """
    runner = None
    if workers > 1 and len(jobs) > 1:
        try:
            runner = _Runner(jobs, workers, done, worker)
        except (OSError, ImportError, NotImplementedError):  # no working multiprocessing here
            runner = None
    if runner is None:
        for index, job in enumerate(jobs):
            done(index, worker(job))
        return
    runner.run()


class _Runner:
    """Keeps at most two jobs per worker in flight; after a worker died, runs the jobs it
    may have taken along one at a time, so that a second death is that job's own."""

    def __init__(
        self, jobs: Sequence[Job], workers: int, done: Done, worker: Callable[[Job], Outcome]
    ) -> None:
        self.jobs, self.workers, self.done, self.worker = jobs, workers, done, worker
        self.waiting = deque(range(len(jobs)))
        self.suspects: deque[int] = deque()
        self.in_flight: dict[Future[Outcome], int] = {}
        self.alone = False  # one suspect runs by itself: a death now is its own
        self.pool = _executor(workers)

    def run(self) -> None:
        try:
            while self.waiting or self.suspects or self.in_flight:
                if not self.in_flight:
                    self.alone = bool(self.suspects)
                    if self.alone and not self._submit(self.suspects):
                        continue
                while not self.alone and self.waiting and len(self.in_flight) < 2 * self.workers:
                    if not self._submit(self.waiting):
                        break
                if self.in_flight:
                    self._collect()
        except BaseException:  # Ctrl-C: what has not started never will
            for future in self.in_flight:
                future.cancel()
            raise

    def _submit(self, queue: deque[int]) -> bool:
        """Send the job at the head of ``queue``; False when the pool is broken (a fresh
        one replaces it when nothing of the old one is in flight)."""
        try:
            future = self.pool.submit(self.worker, self.jobs[queue[0]])
        except BrokenProcessPool:
            if not self.in_flight:
                self._renew()
            return False
        self.in_flight[future] = queue.popleft()
        return True

    def _renew(self) -> None:
        _discard(self.pool)
        self.pool = _executor(self.workers)

    def _collect(self) -> None:
        finished, _ = wait(self.in_flight, return_when=FIRST_COMPLETED)
        if not any(_died(future) for future in finished):
            for future in finished:
                self.done(self.in_flight.pop(future), _outcome(future))
            return
        wait(self.in_flight)  # a broken pool fails every job it holds, promptly
        in_flight, self.in_flight = self.in_flight, {}
        self._renew()
        for future, index in in_flight.items():
            if not _died(future):
                self.done(index, _outcome(future))
            elif self.alone:
                self.done(index, Outcome(reason=DIED))
            else:
                self.suspects.append(index)


def _died(future: Future[Outcome]) -> bool:
    return not future.cancelled() and isinstance(future.exception(), BrokenProcessPool)


def _outcome(future: Future[Outcome]) -> Outcome:
    try:
        return future.result()
    except Exception as exc:  # e.g. an outcome that could not be sent back
        return Outcome(reason=f"fitting failed: {type(exc).__name__}: {exc}")
