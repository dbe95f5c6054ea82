"""Everything the sandbox remembers between requests, and its Python control surface.

One :class:`SandboxState` backs one sandbox app.  The HTTP control endpoints under
``/_sandbox/`` and Python callers (tests, benchmarks, ``Sandbox.state``) use the same
methods, so both ways of steering the sandbox behave alike.

Example
-------
>>> state = SandboxState()
>>> state.set_faults({"seed": 3, "transient": 0.5}).transient
0.5
>>> state.stats()["taobao_picture"]["requests"]
0
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from imgkit.sandbox import registry
from imgkit.sandbox.faults import FaultConfigError, FaultPlan, is_number
from imgkit.sandbox.imageinfo import ImageFacts
from imgkit.sandbox.ratelimit import SlidingWindow
from imgkit.sandbox.settings import SandboxSettings
from imgkit.sandbox.store import ImageStore, StoredImage
from imgkit.sandbox.timestamps import Clock
from imgkit.sandbox.world import World, default_world

T = TypeVar("T")


@dataclass
class RateLimits:
    """Server-side rate limits in requests per second (None: unlimited).

    ``vv_token_qps`` is documented (10/s per token); the others are off until a test or a
    benchmark sets them, because the platforms do not publish them.
    """

    vv_token_qps: float | None = 10.0
    top_app_qps: float | None = None
    top_ban_s: float = 1.0
    top_session_qps: float | None = None
    tmall_seller_qps: float | None = None
    doudian_app_qps: float | None = None
    qianmi_app_qps: float | None = None

    def update(self, raw: Mapping[str, Any]) -> None:
        """Set the named limits, all or none: unknown names or bad values are refused."""
        names = {f.name for f in fields(self)}
        unknown = set(raw) - names
        if unknown:
            raise FaultConfigError(f"unknown limit keys {sorted(unknown)}; known: {sorted(names)}")
        for key, value in raw.items():
            if value is None and key == "top_ban_s":
                raise FaultConfigError("'top_ban_s' must be a number")
            if value is not None and (not is_number(value) or value < 0):
                raise FaultConfigError(f"limit {key!r} must be a number >= 0 or null")
        for key, value in raw.items():
            setattr(self, key, value)


@dataclass
class PlatformStats:
    """Counters for one platform."""

    requests: int = 0
    stored: int = 0
    replaced: int = 0
    duplicates: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready counters."""
        return {
            "requests": self.requests,
            "stored": self.stored,
            "replaced": self.replaced,
            "duplicates": self.duplicates,
            "rejections": dict(self.rejections),
            "faults": dict(self.faults),
        }


@dataclass(frozen=True)
class AuditRule:
    """Make matching Douyin uploads fail their audit (or be refused at upload: ``at_upload``).

    A rule needs a ``reason`` and at least one of ``material_id``, ``material_name``,
    ``sha256``; a material matches when any of them equals its own.

    >>> AuditRule.from_json({"reason": "违规", "material_name": "a.jpg"}).at_upload
    False
    """

    reason: str
    material_id: str | None = None
    material_name: str | None = None
    sha256: str | None = None
    at_upload: bool = False

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AuditRule:
        """Build a rule from ``POST /_sandbox/audit`` JSON, refusing anything malformed."""
        matchers = ("material_id", "material_name", "sha256")
        allowed = {"reason", "at_upload", *matchers}
        unknown = set(raw) - allowed
        if unknown:
            raise FaultConfigError(f"unknown audit rule keys {sorted(unknown)}")
        reason = raw.get("reason")
        if not isinstance(reason, str) or not reason:
            raise FaultConfigError("an audit rule needs a non-empty 'reason' text")
        for key in matchers:
            if raw.get(key) is not None and not isinstance(raw[key], str):
                raise FaultConfigError(f"audit rule {key!r} must be a string")
        if all(raw.get(key) is None for key in matchers):
            raise FaultConfigError(f"an audit rule needs one of {list(matchers)}")
        at_upload = raw.get("at_upload", False)
        if not isinstance(at_upload, bool):
            raise FaultConfigError("audit rule 'at_upload' must be true or false")
        return cls(
            reason=reason,
            material_id=raw.get("material_id"),
            material_name=raw.get("material_name"),
            sha256=raw.get("sha256"),
            at_upload=at_upload,
        )


@dataclass(frozen=True)
class RequestRecord:
    """One API request as the server saw it (for pacing measurements).

    ``at`` is when its handler began (wall clock), the moment the rate limits count it.
    """

    at: float
    platform: str
    credential: str
    outcome: str


class SandboxState:
    """The sandbox's memory.  Thread-safe: control calls may come from another thread."""

    def __init__(self, world: World | None = None) -> None:
        self.world = world or default_world()
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget every upload, counter, fault, limit, audit rule, setting and expiry.

        The clock follows real time again and every setting is back at its strict default.
        """
        with self.lock:
            self.clock = Clock()
            self.settings = SandboxSettings()
            self.store = ImageStore()
            self.faults = FaultPlan()
            self.limits = RateLimits()
            self.limiter = SlidingWindow()
            self.audit_rules: list[AuditRule] = []
            self.requests: deque[RequestRecord] = deque(maxlen=500_000)
            # Every platform and gateway of the sandbox's table, counted from zero.
            self._stats = {key: PlatformStats() for key in registry.counted_keys()}
            self._books: dict[str, object] = {}
            self._ids = itertools.count(int(time.time()) % 100_000 * 1000 + 1)

    # --- control -------------------------------------------------------------------------

    def set_faults(self, raw: Mapping[str, Any]) -> FaultPlan:
        """Replace the fault plan (see :class:`imgkit.sandbox.faults.FaultPlan`).

        Forced errors must name a platform and one of its catalogued errors.
        """
        plan = FaultPlan.from_json(raw)
        catalogues = registry.catalogues()
        unknown = set(plan.platforms or ()) - set(catalogues)
        if unknown:
            raise FaultConfigError(
                f"'platforms' names unknown platforms {sorted(unknown)}; "
                f"known: {sorted(catalogues)}"
            )
        for forced in plan.forced:
            if forced.platform not in catalogues:
                raise FaultConfigError(
                    f"'force' names unknown platform {forced.platform!r}; "
                    f"known: {sorted(catalogues)}"
                )
            if forced.error and forced.error not in catalogues[forced.platform]:
                raise FaultConfigError(
                    f"'force' names unknown error {forced.error!r} of {forced.platform}; "
                    f"known: {sorted(catalogues[forced.platform])}"
                )
        with self.lock:
            self.faults = plan
        return plan

    def set_limits(self, raw: Mapping[str, Any]) -> RateLimits:
        """Change rate limits, e.g. ``{"top_app_qps": 5}``."""
        with self.lock:
            self.limits.update(raw)
            return self.limits

    def set_clock(self, at: float | None) -> float | None:
        """Fix the sandbox clock at ``at`` (epoch seconds), or return it to real time (None).

        The clock is what the timestamp windows (TOP, fw199, Qianmi: ±600 s), vv-tool token
        expiry, TOP's quota day and the Douyin audit are judged against; build a request
        from the same instant and it is judged exactly there.  Returns the fixed instant.

        Examples
        --------
        >>> state = SandboxState()
        >>> state.set_clock(1704081600)
        1704081600.0
        >>> state.clock.now()
        1704081600.0
        >>> state.set_clock(None) is None
        True
        """
        if at is not None and not is_number(at):
            raise FaultConfigError("the clock must be fixed at a number of epoch seconds, or null")
        with self.lock:
            self.clock.fix(at)
            return self.clock.fixed

    def set_settings(self, raw: Mapping[str, Any]) -> SandboxSettings:
        """Change the sandbox's adjustable readings (see :mod:`imgkit.sandbox.settings`).

        Examples
        --------
        >>> state = SandboxState()
        >>> state.set_settings({"boolean_case": "any"}).boolean_case
        'any'
        >>> state.reset()
        >>> state.settings.boolean_case
        'exact'
        """
        known = {key: e.shapes for key, e in registry.emulators().items()}
        with self.lock:
            self.settings.update(raw, known)
            return self.settings

    def expire(self, credential: str) -> None:
        """Make a token or session read as expired from now on (until :meth:`reset`).

        Examples
        --------
        >>> state = SandboxState()
        >>> state.expire("sbx-vv-token-1")
        >>> state.is_expired("sbx-vv-token-1"), state.is_expired("sbx-qm-token-1")
        (True, False)
        """
        if not isinstance(credential, str) or not credential:
            raise FaultConfigError("'credential' must be a non-empty string")
        with self.lock:
            self.settings.expired.add(credential)

    def is_expired(self, credential: str) -> bool:
        """Whether :meth:`expire` was called for ``credential``."""
        with self.lock:
            return credential in self.settings.expired

    def add_audit_rule(self, rule: AuditRule) -> None:
        """Make matching Douyin materials be rejected (see ``docs/sandbox.md``)."""
        with self.lock:
            self.audit_rules.append(rule)

    def stats(self) -> dict[str, Any]:
        """Counters per platform plus totals, as ``GET /_sandbox/stats`` returns them."""
        with self.lock:
            out: dict[str, Any] = {key: s.to_json() for key, s in self._stats.items()}
            out["total"] = {
                name: sum(s.to_json()[name] for s in self._stats.values())
                for name in ("requests", "stored", "replaced", "duplicates")
            }
            out["images"] = len(self.store)
            return out

    def request_log(self, platform: str | None = None) -> list[RequestRecord]:
        """API requests seen so far, oldest first, optionally for one platform."""
        with self.lock:
            return [r for r in self.requests if platform is None or r.platform == platform]

    # --- used by the platform modules ------------------------------------------------------

    def platform_stats(self, platform: str) -> PlatformStats:
        """The counters of ``platform`` (one registered after this state was made starts now)."""
        with self.lock:
            return self._stats.setdefault(platform, PlatformStats())

    def keep(
        self,
        platform: str,
        shop: str,
        target: str,
        data: bytes,
        facts: ImageFacts,
        *,
        replace: bool = False,
        key: str | None = None,
    ) -> StoredImage:
        """Store an upload and count it (stored or replaced, and duplicates)."""
        with self.lock:
            image, duplicate = self.store.put(
                platform, shop, target, data, facts, replace=replace, key=key
            )
            stats = self.platform_stats(platform)
            if replace:
                stats.replaced += 1
            else:
                stats.stored += 1
            stats.duplicates += int(duplicate)
            return image

    def next_id(self) -> int:
        """A fresh numeric id, unique within this state."""
        with self.lock:
            return next(self._ids)

    def book(self, key: str, factory: Callable[[World], T], kind: type[T]) -> T:
        """The mutable per-platform records, created from the world on first use."""
        with self.lock:
            book = self._books.get(key)
            if not isinstance(book, kind):
                book = factory(self.world)
                self._books[key] = book
            return book
