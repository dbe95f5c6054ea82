"""Vectorized validation: every rule is a named function of the frame returning a mask.

``validate(batch)`` probes every file (in threads, cached), evaluates all rules column-wise
against the per-platform limits declared by the adapters (a limit is written once), and
returns the batch with ``ok``, ``issues`` (codes joined by ";"), ``message`` (Chinese and
English, one line per issue), ``fixable`` and the probe facts ``format, bytes, width,
height, frames, sha256``.  Bad rows become messages; nothing is raised for them.  The rule
table (:data:`imgkit.rules.RULES`) says each code's severity and whether :func:`imgkit.fit`
repairs it.

Example
-------
>>> import pandas as pd
>>> from imgkit.sandbox import sandbox_shops
>>> batch = pd.DataFrame({"platform": ["天猫商品图", "jd"], "shop": ["tmall_store", "x"],
...                       "file": ["sample_data/images/mug.jpg"] * 2,
...                       "target": ["1489161940", "1"]})
>>> out = validate(batch, shops=sandbox_shops("http://127.0.0.1:9"))
>>> out[["ok", "issues"]].to_dict("records")
[{'ok': True, 'issues': ''}, {'ok': False, 'issues': 'unknown_platform;unknown_shop'}]
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from typing import Any

import pandas as pd

from imgkit.batch import read_batch
from imgkit.errors import ShopConfigError
from imgkit.probe import PROBE_COLUMNS, Probe, probe_paths
from imgkit.rules import FIXABLE, RULES, Context
from imgkit.shops import Shop, Shops, default_shops_path, make_shop

RESULT_COLUMNS = ("platform_key", "ok", "issues", "message", "fixable", *PROBE_COLUMNS)
REQUIRED = ("platform", "shop", "file", "target")

# --- shops, read leniently so that one bad shop costs only its own rows ------------------


def _tables(shops: Any) -> tuple[Mapping[str, Any] | None, str]:
    if isinstance(shops, Shops):
        return None, ""
    if shops is None or isinstance(shops, str | os.PathLike):
        path = default_shops_path() if shops is None else shops
        try:
            with open(path, "rb") as fh:
                return tomllib.load(fh), ""
        except FileNotFoundError:
            return {}, f"no shops file at {path} / 找不到店铺配置文件 {path}"
        except tomllib.TOMLDecodeError as exc:
            return {}, f"{path} is not valid TOML: {exc} / 店铺配置文件格式错误"
    return shops, ""


def load_shops_lenient(shops: Any) -> tuple[dict[str, Shop], dict[str, str], str]:
    """(good shops, {bad shop: reason}, a problem with the whole source or "")."""
    if isinstance(shops, Shops):
        return dict(shops), {}, ""
    tables, problem = _tables(shops)
    good: dict[str, Shop] = {}
    bad: dict[str, str] = {}
    for name, table in (tables or {}).items():
        try:
            good[name] = make_shop(name, table)
        except ShopConfigError as exc:
            bad[name] = exc.message
    return good, bad, problem


# --- putting it together --------------------------------------------------------------------


def _as_batch(batch: Any) -> pd.DataFrame:
    # A frame read_batch already normalized (it has ``row``) is taken as it is, minus the
    # columns a previous validation added.
    if isinstance(batch, pd.DataFrame):
        if {*REQUIRED, "row"} <= set(batch.columns):
            frame: pd.DataFrame = batch.drop(
                columns=[c for c in RESULT_COLUMNS if c in batch.columns]
            )
            return frame
        frame = read_batch(batch)
        # The caller's index survives (results are matched to input rows by it); read_batch
        # numbers a frame's rows by position + 2.
        frame.index = batch.index[frame["row"].to_numpy() - 2]
        return frame
    return read_batch(batch)


def _join(parts: list[tuple[pd.Series, pd.Series]], index: pd.Index, sep: str) -> pd.Series:
    out = pd.Series("", index=index, dtype=object)
    for mask, text in parts:
        if mask.any():
            joined = (out[mask] + sep + text[mask]).str.removeprefix(sep)
            out[mask] = joined
    return out


def validate(batch: Any, shops: Any = None, *, workers: int | None = None) -> pd.DataFrame:
    """Check every row of ``batch`` against its platform's limits and its shop.

    ``batch``: a DataFrame, CSV or XLSX path (see :func:`imgkit.read_batch`); ``shops``:
    a shops file, mapping or :class:`imgkit.Shops` (default: ``$IMGKIT_SHOPS``).  Returns the
    batch (same index) with ``platform_key, ok, issues, message, fixable`` and the probe
    facts.  Raises only when the batch as a whole is unusable (a required column missing).
    """
    frame = _as_batch(batch)
    good, bad, problem = load_shops_lenient(shops)
    probes = probe_paths(frame["file"].astype(str).tolist(), workers=workers)
    if frame.empty:
        probes = _no_probes()
    probes.index = frame.index
    work = pd.concat([frame, probes], axis=1)
    ctx = Context(work, good, bad)
    errors = ctx.no_rows()
    unfixable = ctx.no_rows()
    codes: list[tuple[pd.Series, pd.Series]] = []
    messages: list[tuple[pd.Series, pd.Series]] = []
    for rule in RULES:
        mask = rule.check(ctx).fillna(False).astype(bool)
        if not mask.any():
            continue
        if rule.severity == "error":
            errors |= mask
            if not rule.fixable:
                unfixable |= mask
        label = "错误" if rule.severity == "error" else "提示"
        text = pd.Series(f"[{label}] {rule.zh} / {rule.en}", index=work.index, dtype=object)
        if rule.detail is not None:
            text = text + " " + rule.detail(ctx).astype(str)
        if rule.code in ("unknown_shop", "bad_shop"):
            text = text + _shop_detail(ctx, rule.code, problem)
        codes.append((mask, pd.Series(rule.code, index=work.index, dtype=object)))
        messages.append((mask, text))
    out = frame.copy()
    out["platform_key"] = ctx.platform
    out["ok"] = ~errors
    out["issues"] = _join(codes, work.index, ";")
    out["message"] = _join(messages, work.index, "\n")
    out["fixable"] = errors & ~unfixable
    for column in PROBE_COLUMNS:
        out[column] = probes[column]
    return out


def _no_probes() -> pd.DataFrame:
    # probe_paths of no files has columns of no particular type; give them the types a
    # batch with files gets (a blank probe's values, as probe_paths builds its frame).
    blank = Probe()
    values = {c: getattr(blank, "error" if c == "probe_error" else c) for c in PROBE_COLUMNS}
    return pd.DataFrame({c: [v] for c, v in values.items()}).iloc[:0]


def _shop_detail(ctx: Context, code: str, problem: str) -> pd.Series:
    shop = ctx.col("shop")
    if code == "bad_shop":
        return ": " + shop.map(ctx.bad_shops).fillna("")
    suffix = f" ({problem})" if problem else ""
    return ": '" + shop + "'" + suffix


def issues_table(validated: pd.DataFrame) -> pd.DataFrame:
    """One row per (batch row, issue): ``index, row, code, severity, fixable, message``.

    >>> import pandas as pd
    >>> issues_table(pd.DataFrame({"row": [2], "issues": ["too_large;title_will_be_cut"]}))
    ... # doctest: +NORMALIZE_WHITESPACE
       index  row               code severity  fixable
    0      0    2          too_large    error     True
    1      0    2  title_will_be_cut  warning    False
    """
    rows = validated.get("row", pd.Series(validated.index, index=validated.index))
    codes = validated["issues"].str.split(";").explode()
    codes = codes[codes.fillna("") != ""]
    table = pd.DataFrame(
        {"index": codes.index, "row": rows.loc[codes.index].to_numpy(), "code": codes.to_numpy()}
    )
    table["severity"] = table["code"].map({r.code: r.severity for r in RULES})
    table["fixable"] = table["code"].isin(FIXABLE)
    return table.reset_index(drop=True)
