"""The records the Douyin emulator keeps (``doudian``): materials and their audit clock.

A material's ``audit_status`` goes 1 → 2 → 3 (or 4) over its ``audit_delay_s``, judged
against the sandbox clock.  :mod:`imgkit.sandbox.doudian` serves them.

Example
-------
>>> from imgkit.sandbox.imageinfo import inspect_image
>>> m = Material("7", "38173182", "0", "a.jpg", "", "k", inspect_image(b"x"), created=0.0,
...              audit_delay_s=4.0, reject_reason=None)
>>> m.audit_status(1.0), m.audit_status(3.0), m.audit_status(4.0)
(1, 2, 3)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from imgkit.sandbox.imageinfo import ImageFacts
from imgkit.sandbox.timestamps import format_gmt8
from imgkit.sandbox.world import World


@dataclass
class Material:
    """A material and its audit clock."""

    material_id: str
    seller: str
    folder_id: str
    name: str
    origin_url: str
    image_key: str
    facts: ImageFacts
    created: float
    audit_delay_s: float
    reject_reason: str | None
    create_time: str = field(default_factory=format_gmt8)

    def audit_status(self, now: float | None = None) -> int:
        """1 waiting, 2 auditing, 3 passed, 4 rejected — by elapsed time."""
        elapsed = (time.time() if now is None else now) - self.created
        if elapsed < self.audit_delay_s / 2:
            return 1
        if elapsed < self.audit_delay_s:
            return 2
        return 4 if self.reject_reason is not None else 3


@dataclass
class DoudianBook:
    """Materials by id, and requests in flight (for the duplicate-request error)."""

    materials: dict[str, Material] = field(default_factory=dict)
    in_flight: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def from_world(cls, world: World) -> DoudianBook:
        """A fresh book: no materials."""
        return cls()
