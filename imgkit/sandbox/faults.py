"""Fault injection: latency, transient errors, rate limiting, HTTP 500, dropped connections
and the lies of gateways (wrong answers after a store, dripped or missing answers).

A :class:`FaultPlan` is set from JSON (``POST /_sandbox/faults``) or from Python, and asked
once per API request for a :class:`FaultDecision`.  Draws come from one seeded generator, so a
run with the same seed and the same request order meets the same faults.

Example
-------
>>> plan = FaultPlan.from_json({"seed": 1, "transient": 1.0})
>>> plan.decide("doudian").transient
True
>>> plan.decide("doudian", storing=False).drop_after_store
False
>>> FaultPlan.from_json({"seed": 1, "silent": 1.0, "silent_s": 2}).decide("doudian").wire_lie
'silent'
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

# Answers replaced once the handler has stored an image, in the order they win when several
# are drawn for one request (drop_after_store, which sends nothing at all, beats them all).
AFTER_STORE_LIES = (
    "gateway_504_after_store",
    "html_after_store",
    "empty_after_store",
    "truncated_after_store",
    "no_url_after_store",
)
# How any answer travels, stored or not, in the order they win.
WIRE_LIES = ("silent", "drip_headers", "drip_body")
# New kinds go at the end (each request still draws the older kinds first and in order;
# a seed gives another sequence than before, as every request draws more).
PROBABILITIES = (
    "transient",
    "rate_limited",
    "http_500",
    "drop_before_store",
    "drop_after_store",
    *AFTER_STORE_LIES,
    *WIRE_LIES,
)
# Knobs in seconds (>= 0) and their defaults.
SECONDS = {"audit_delay_s": 0.0, "drip_interval_s": 1.0, "silent_s": 3600.0}
KNOWN_KEYS = frozenset({"seed", "latency_ms", "platforms", "force", *SECONDS, *PROBABILITIES})


class FaultConfigError(ValueError):
    """The fault JSON is malformed; the message says which key and why."""


@dataclass(frozen=True)
class FaultDecision:
    """What happens to one request."""

    latency_s: float = 0.0
    http_500: bool = False
    drop_before_store: bool = False
    transient: bool = False
    rate_limited: bool = False
    drop_after_store: bool = False
    forced: str | None = None
    after_store_lie: str | None = None  # applied only if the handler stored something
    wire_lie: str | None = None
    drip_interval_s: float = 1.0
    silent_s: float = 3600.0


@dataclass(frozen=True)
class ForcedError:
    """Answer the next ``times`` requests of ``platform`` with the catalogued ``error``,
    and/or serve them ``delay_s`` late: the handler runs (and stores) after the delay,
    whether or not the client is still waiting (a platform that stores late)."""

    platform: str
    error: str = ""
    times: int = 1
    delay_s: float = 0.0


def is_number(value: object) -> bool:
    """A finite JSON number (booleans are not numbers here).

    >>> [is_number(v) for v in (1, 0.5, True, float("nan"), "1")]
    [True, True, False, False, False]
    """
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _probability(raw: Mapping[str, Any], key: str) -> float:
    value = raw.get(key, 0.0)
    if not is_number(value) or not 0 <= value <= 1:
        raise FaultConfigError(f"{key!r} must be a probability between 0 and 1, got {value!r}")
    return float(value)


def _seconds(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if not is_number(value) or value < 0:
        raise FaultConfigError(f"{key!r} must be seconds >= 0, got {value!r}")
    return float(value)


def _latency(raw: Mapping[str, Any]) -> tuple[float, float]:
    value = raw.get("latency_ms", [0, 0])
    if is_number(value):
        value = [value, value]
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(is_number(v) and v >= 0 for v in value)
        or value[0] > value[1]
    ):
        raise FaultConfigError(f"'latency_ms' must be [low, high] milliseconds, got {value!r}")
    return float(value[0]) / 1000.0, float(value[1]) / 1000.0


def _forced(raw: Mapping[str, Any]) -> list[ForcedError]:
    items = raw.get("force", [])
    if not isinstance(items, list):
        raise FaultConfigError("'force' must be a list of {platform, error, times}")
    out = []
    for item in items:
        if (
            not isinstance(item, dict)
            or "platform" not in item
            or not {"error", "delay_s"} & item.keys()
            or not set(item) <= {"platform", "error", "times", "delay_s"}
        ):
            raise FaultConfigError(
                f"each 'force' entry needs 'platform' and 'error' or 'delay_s' (and may have "
                f"'times'): {item!r}"
            )
        times = item.get("times", 1)
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise FaultConfigError(f"'times' must be a positive integer: {item!r}")
        delay = _seconds(item, "delay_s", 0.0)
        out.append(ForcedError(str(item["platform"]), str(item.get("error", "")), times, delay))
    return out


@dataclass
class FaultPlan:
    """The active faults.  All probabilities are per API request."""

    seed: int | None = None
    latency_s: tuple[float, float] = (0.0, 0.0)
    transient: float = 0.0
    rate_limited: float = 0.0
    http_500: float = 0.0
    drop_before_store: float = 0.0
    drop_after_store: float = 0.0
    gateway_504_after_store: float = 0.0
    html_after_store: float = 0.0
    empty_after_store: float = 0.0
    truncated_after_store: float = 0.0
    no_url_after_store: float = 0.0
    silent: float = 0.0
    drip_headers: float = 0.0
    drip_body: float = 0.0
    audit_delay_s: float = 0.0
    drip_interval_s: float = 1.0
    silent_s: float = 3600.0
    platforms: frozenset[str] | None = None
    forced: list[ForcedError] = field(default_factory=list)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FaultPlan:
        """Build a plan from the JSON object documented in ``docs/sandbox.md``."""
        unknown = set(raw) - KNOWN_KEYS
        if unknown:
            raise FaultConfigError(
                f"unknown fault keys {sorted(unknown)}; known: {sorted(KNOWN_KEYS)}"
            )
        seed = raw.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise FaultConfigError(f"'seed' must be an integer, got {seed!r}")
        seconds = {key: _seconds(raw, key, default) for key, default in SECONDS.items()}
        platforms = raw.get("platforms")
        if platforms is not None and (
            not isinstance(platforms, list) or not all(isinstance(p, str) for p in platforms)
        ):
            raise FaultConfigError("'platforms' must be a list of platform keys")
        return cls(
            seed=seed,
            latency_s=_latency(raw),
            **seconds,
            platforms=frozenset(map(str, platforms)) if platforms is not None else None,
            forced=_forced(raw),
            _rng=random.Random(seed),
            **{key: _probability(raw, key) for key in PROBABILITIES},
        )

    def to_json(self) -> dict[str, Any]:
        """The plan as the JSON the control endpoint accepts."""
        out: dict[str, Any] = {key: getattr(self, key) for key in PROBABILITIES}
        out.update(
            seed=self.seed,
            latency_ms=[self.latency_s[0] * 1000, self.latency_s[1] * 1000],
            **{key: getattr(self, key) for key in SECONDS},
            platforms=sorted(self.platforms) if self.platforms is not None else None,
            force=[
                {k: v for k, v in vars(f).items() if v or k in ("platform", "times")}
                for f in self.forced
            ],
        )
        return out

    def decide(self, platform: str, *, storing: bool = True) -> FaultDecision:
        """Draw the faults for one request to ``platform``."""
        entry = self._pop_forced(platform)
        forced = entry.error or None if entry is not None else None
        late = entry.delay_s if entry is not None else 0.0
        if self.platforms is not None and platform not in self.platforms:
            return FaultDecision(
                latency_s=late,
                forced=forced,
                drip_interval_s=self.drip_interval_s,
                silent_s=self.silent_s,
            )
        rng = self._rng
        low, high = self.latency_s
        latency = late + (rng.uniform(low, high) if high > 0 else 0.0)
        # One draw per fault kind, always, so that a seed replays the same sequence.
        draws = {key: rng.random() < getattr(self, key) for key in PROBABILITIES}
        return FaultDecision(
            latency_s=latency,
            http_500=draws["http_500"],
            drop_before_store=draws["drop_before_store"],
            transient=draws["transient"],
            rate_limited=draws["rate_limited"],
            drop_after_store=draws["drop_after_store"] and storing,
            forced=forced,
            after_store_lie=next((k for k in AFTER_STORE_LIES if draws[k] and storing), None),
            wire_lie=next((k for k in WIRE_LIES if draws[k]), None),
            drip_interval_s=self.drip_interval_s,
            silent_s=self.silent_s,
        )

    def _pop_forced(self, platform: str) -> ForcedError | None:
        for index, item in enumerate(self.forced):
            if item.platform == platform:
                if item.times > 1:
                    self.forced[index] = replace(item, times=item.times - 1)
                else:
                    del self.forced[index]
                return item
        return None
