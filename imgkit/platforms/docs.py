"""Generate ``docs/platforms.md`` from the adapters' declarations.

One section per platform: endpoint, shop fields, what ``target`` means, options, limits
and the code table.  A test compares the committed file with a fresh rendering, so the
docs cannot drift from the code.  Regenerate with
``python -m imgkit.docgen``.

Example
-------
>>> "## `tmall_item`" in platforms_markdown()
True
"""

from __future__ import annotations

from imgkit.platforms import ALIASES, get_adapter, platform_keys
from imgkit.platforms.base import Adapter, Limits

_HEADER = """# Platforms

Generated from the adapters by `python -m imgkit.docgen`;
do not edit by hand.

Every platform is one module under `imgkit/platforms/` behind one interface
(`imgkit/platforms/base.py`). A shop (see `imgkit/intake/shops.py`) names its platform by key
or by any alias below, and may set `base_url` (`scheme://host[:port]`) to point at the
sandbox or a proxy; the adapter appends the platform's path. Any shop value may be
`env:NAME` to read it from the environment. Secret fields never print. Each adapter
declares its key, aliases and abilities once (`PlatformDeclaration`); a new platform is
added as `docs/adding-a-platform.md` describes.

Categories are the toolkit's error categories (`imgkit.Category`); only `rate_limited`,
`transient` and `timeout` are ever retried, and only where the table says so. Besides its
own codes, every platform maps answers that are not the platform speaking: HTTP 401 →
`auth`, 403 → `permission`, 429 → `rate_limited`, 5xx → `transient`, an unreadable body →
`unknown`; no answer at all → `transient` when nothing was sent, else `timeout` with
*maybe stored* set. A row `code:cause` refines a code by the cause its message names
(vv-tool's code 100 covers size, format and pixel problems alike).

Retry safety: after a request that got no answer, a re-send is safe only where it cannot
store a second copy — replacing by id (`replace_id`) on every platform that has it, and
Douyin's `need_distinct=true`. Elsewhere the row is settled by a look-up where the
platform has one (`docs/lookups.md`: the images the upload could have stored, compared by
bytes), and otherwise reported instead of risking a duplicate.
"""


def _fmt_range(r: range | None) -> str:
    return f"{r.start}–{r.stop - 1}" if r is not None else "—"


def _limits_rows(limits: Limits) -> list[str]:
    rows = [
        "| limit | value |",
        "|---|---|",
        f"| bytes | {limits.max_bytes:,} |",
        f"| formats (by content) | {', '.join(sorted(limits.formats))} |",
        f"| title | {limits.title_max or '—'} characters"
        + (" (longer ones are cut)" if limits.title_cut else "")
        + (", '(1)' / '(n+1)' on a clash |" if limits.title_dedup else " |"),
        f"| positions | {_fmt_range(limits.positions)} |",
        f"| images per target | {limits.images_per_target or '—'} |",
        f"| documented rate | {f'{limits.rate_per_s:g}/s' if limits.rate_per_s else '—'} |",
    ]
    for rule in limits.pixel_rules:
        when = f"when `{rule.when[0]}` = `{rule.when[1]}`" if rule.when else "always"
        rows.append(f"| pixels ({when}) | {rule.en} |")
    return rows


def _credential_lines(adapter: Adapter) -> list[str]:
    spec = adapter.credentials
    lines = [f"- required: {', '.join(f'`{f}`' for f in spec.required) or '—'}"]
    for group in spec.alternatives:
        options = " or ".join(" + ".join(f"`{f}`" for f in option) for option in group)
        lines.append(f"- one of: {options}")
    if spec.optional:
        lines.append(f"- optional: {', '.join(f'`{f}`' for f in spec.optional)}")
    if spec.secret:
        lines.append(f"- secret (masked): {', '.join(f'`{f}`' for f in sorted(spec.secret))}")
    return lines


def _code_rows(adapter: Adapter) -> list[str]:
    rows = ["| raw code | category | retried | meaning |", "|---|---|---|---|"]
    for code, rule in adapter.codes.rules.items():
        meaning = f"{rule.zh} / {rule.en}".replace("|", "\\|")
        retried = "yes" if rule.retryable else "no"
        rows.append(f"| `{code}` | `{rule.category}` | {retried} | {meaning} |")
    return rows


_ABILITY_WORDS = {
    "lookup": "look-up (`docs/lookups.md`)",
    "poll": "audit poll",
    "token": "token endpoint",
    "replace": "replace by id (`replace_id`)",
}


def _abilities(adapter: Adapter) -> str:
    declared = adapter.declaration.abilities
    return ", ".join(_ABILITY_WORDS[name] for name in declared) or "—"


def platform_section(key: str) -> str:
    """The markdown section of one platform."""
    adapter = get_adapter(key)
    aliases = ", ".join(ALIASES.get(key, ())) or "—"
    sources = "passed to the platform" if adapter.accepts_url_source else "downloaded first"
    lines = [
        f"## `{key}`: {adapter.title}",
        "",
        f"- endpoint: `POST {adapter.default_base_url}{adapter.path}`",
        f"- aliases: {aliases}",
        f"- abilities: {_abilities(adapter)}",
        f"- `target`: {adapter.target_meaning} (pattern `{adapter.target_pattern}`)",
        f"- URL sources (`file` is an http(s) URL): {sources}",
        f"- unanswered requests: {adapter.unanswered_policy}",
        "",
        "Shop fields:",
        "",
        *_credential_lines(adapter),
        "",
        "Options (optional batch columns):",
        "",
        "| column | meaning |",
        "|---|---|",
        *[f"| `{o.name}` | {o.meaning} |" for o in adapter.options],
        "",
        "Limits:",
        "",
        *_limits_rows(adapter.limits),
        "",
        "Codes:",
        "",
        *_code_rows(adapter),
        "",
    ]
    return "\n".join(lines)


def platforms_markdown() -> str:
    """The whole document."""
    return "\n".join([_HEADER, *(platform_section(key) for key in platform_keys())])
