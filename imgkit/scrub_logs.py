"""Secrets kept out of the logs: imgkit's, httpx's and httpcore's records are scrubbed as
they are made.

:func:`register` adds secrets to one process-wide scrubber and, the first time, calls
:func:`install_log_filter`, which wraps the logging record factory: every record created by
the ``imgkit``, ``httpx`` and ``httpcore`` loggers (and their children) has its message,
arguments, traceback text and stack text scrubbed at creation, before any filter, handler
or formatter sees it, whichever handlers the application set up. (A filter on a logger
would miss records from its child loggers; a filter on a handler would miss handlers added
later.) :class:`SecretFilter` scrubs records the same way for a handler of your own that
also receives other loggers' records.

Example
-------
>>> register("registered-secret-2")
>>> logging.getLogger("httpx").makeRecord(
...     "httpx", logging.INFO, "", 0, "GET /?session=%s", ("registered-secret-2",), None
... ).getMessage()
'GET /?session=[redacted]'
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from imgkit.scrub import Scrubber
from imgkit.secret import Secret

# The loggers whose records install_log_filter scrubs (and their children).
LOGGERS = ("imgkit", "httpx", "httpcore")

_REGISTRY = Scrubber()
_INSTALLED: list[Callable[..., logging.LogRecord]] = []  # the factory we wrapped, once
_INSTALL_LOCK = threading.Lock()


def registry() -> Scrubber:
    """The process-wide scrubber that :func:`register` fills and the logs use.

    >>> isinstance(registry(), Scrubber)
    True
    """
    return _REGISTRY


def register(*values: str | Secret | Scrubber | None) -> None:
    """Add secrets (or every secret of a scrubber) to the process-wide registry, and make
    sure the log filter is installed (:func:`install_log_filter`).

    >>> register("registered-secret-1")
    >>> logging.getLogger("imgkit.example").makeRecord(
    ...     "imgkit.example", logging.INFO, "", 0, "token %s", ("registered-secret-1",), None
    ... ).getMessage()
    'token [redacted]'
    """
    for value in values:
        if isinstance(value, Scrubber):
            _REGISTRY.merge(value)
        else:
            _REGISTRY.add(value)
    install_log_filter()


def _ours(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in LOGGERS)


def scrub_record(record: logging.LogRecord, scrubber: Scrubber) -> None:
    """Scrub ``record`` in place: its message (args merged in), traceback and stack text.

    The exception object is dropped only when its text held a secret (the scrubbed text is
    kept in ``exc_text``, which formatters print instead).

    >>> record = logging.LogRecord("x", logging.INFO, "", 0, "a %s", ("secret-9",), None)
    >>> scrub_record(record, Scrubber(["secret-9"]))
    >>> record.getMessage(), record.args
    ('a [redacted]', ())
    """
    if not scrubber:
        return
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a bad format string: keep the parts, scrubbed
        message = " ".join(str(part) for part in (record.msg, *(record.args or ())))
    record.msg, record.args = scrubber.text(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        clean = scrubber.text(record.exc_text)
        if clean != record.exc_text:
            record.exc_text, record.exc_info = clean, None
    if record.stack_info:
        record.stack_info = scrubber.text(record.stack_info)


class SecretFilter(logging.Filter):
    """A filter (for a handler) scrubbing every record with ``scrubber_getter()``'s
    scrubber, the process-wide registry by default; it never drops a record.

    >>> f = SecretFilter(lambda: Scrubber(["secret-42"]))
    >>> record = logging.LogRecord("app", logging.INFO, "", 0, "%s", ("secret-42",), None)
    >>> f.filter(record), record.getMessage()
    (True, '[redacted]')
    """

    def __init__(self, scrubber_getter: Callable[[], Scrubber] = registry) -> None:
        super().__init__()
        self.scrubber_getter = scrubber_getter

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub ``record`` in place; always True."""
        scrub_record(record, self.scrubber_getter())
        return True


def install_log_filter() -> None:
    """Scrub, at creation, every record of the :data:`LOGGERS` with the registry.

    Idempotent: the record factory is wrapped once per process.

    >>> install_log_filter(); install_log_filter()
    >>> len(_INSTALLED)
    1
    """
    with _INSTALL_LOCK:
        if _INSTALLED:
            return
        previous = logging.getLogRecordFactory()
        _INSTALLED.append(previous)

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _REGISTRY and _ours(record.name):
                scrub_record(record, _REGISTRY)
            return record

        logging.setLogRecordFactory(factory)


__all__ = ["LOGGERS", "SecretFilter", "install_log_filter", "register", "registry", "scrub_record"]
