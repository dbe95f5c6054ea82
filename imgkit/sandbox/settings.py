"""Settings where real deployments may differ, and the controls that reach rare paths.

The sandbox is strict by default: where a platform page is silent, it takes the reading
that refuses more, so a client that passes here cannot be relying on leniency.  Where
deployments genuinely differ, the lenient reading is a setting a test can turn on; the
strict value is always the default, and :meth:`SandboxState.reset` restores it.

Three things live here:

- ``boolean_case``: ``"exact"`` (default) accepts only ``true`` / ``false`` for the yes/no
  parameters; ``"any"`` also accepts ``True``, ``TRUE``, ``False``…
- ``shapes``: per platform, an alternative answer shape the platform is known to use
  (``{"doudian": "flat_data"}``), so a client's parser for it is exercised over HTTP.
  Each platform's :class:`~imgkit.sandbox.registry.Emulator` declares the shapes it can
  answer in; the standard shape is the absence of an entry.
- ``expired``: credentials (tokens, sessions) expired on demand, so a client's refresh
  path meets the platform's "expired" answer rather than "unknown token".

Example
-------
>>> settings = SandboxSettings()
>>> settings.flag("true"), settings.flag("false"), settings.flag("")
(True, False, None)
>>> settings.flag("True")
Traceback (most recent call last):
ValueError: 'True' is not true or false
>>> settings.update({"boolean_case": "any", "shapes": {"doudian": "flat_data"}},
...                 {"doudian": ("flat_data",)})
>>> settings.flag("True"), settings.shape("doudian"), settings.shape("qianmi_sku")
(True, 'flat_data', '')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from imgkit.sandbox.faults import FaultConfigError

BOOLEAN_CASES = ("exact", "any")


@dataclass
class SandboxSettings:
    """The sandbox's adjustable readings; every default is the strict one."""

    boolean_case: str = "exact"
    shapes: dict[str, str] = field(default_factory=dict)
    expired: set[str] = field(default_factory=set)

    def update(self, raw: Mapping[str, Any], known_shapes: Mapping[str, tuple[str, ...]]) -> None:
        """Apply ``{"boolean_case"?: …, "shapes"?: {platform: shape | null}}``, all or none.

        ``known_shapes`` maps each platform to the alternative shapes its emulator declares.
        Unknown keys, platforms or shapes raise :class:`FaultConfigError` and change nothing.
        """
        unknown = set(raw) - {"boolean_case", "shapes"}
        if unknown:
            raise FaultConfigError(
                f"unknown setting keys {sorted(unknown)}; known: ['boolean_case', 'shapes']"
            )
        case = raw.get("boolean_case", self.boolean_case)
        if case not in BOOLEAN_CASES:
            raise FaultConfigError(f"'boolean_case' must be one of {list(BOOLEAN_CASES)}")
        shapes = dict(self.shapes)
        given = raw.get("shapes", {})
        if not isinstance(given, Mapping):
            raise FaultConfigError("'shapes' must map platform keys to a shape name or null")
        for platform, shape in given.items():
            if platform not in known_shapes:
                raise FaultConfigError(
                    f"'shapes' names unknown platform {platform!r}; known: {sorted(known_shapes)}"
                )
            if shape is None:
                shapes.pop(platform, None)
            elif shape in known_shapes[platform]:
                shapes[platform] = shape
            else:
                raise FaultConfigError(
                    f"{platform} has no answer shape {shape!r}; "
                    f"known: {list(known_shapes[platform]) or 'none besides the standard one'}"
                )
        self.boolean_case = case
        self.shapes = shapes

    def shape(self, platform: str) -> str:
        """The alternative shape ``platform`` answers in, or ``""`` for the standard one."""
        return self.shapes.get(platform, "")

    def flag(self, text: str) -> bool | None:
        """Read a yes/no parameter: True, False, or None when absent (empty).

        Raises ``ValueError`` for anything else; the caller answers with the platform's
        invalid-parameter code.
        """
        if text == "":
            return None
        word = text if self.boolean_case == "exact" else text.lower()
        if word == "true":
            return True
        if word == "false":
            return False
        raise ValueError(f"{text!r} is not true or false")

    def to_json(self) -> dict[str, Any]:
        """What ``GET /_sandbox/settings`` answers (expired credentials are not echoed)."""
        return {
            "boolean_case": self.boolean_case,
            "shapes": dict(self.shapes),
            "expired": len(self.expired),
        }
