"""Vectorized validation: every rule is a named function of the frame returning a mask.

``validate(batch)`` probes every file (in threads, cached), evaluates all rules column-wise
against the per-platform limits declared by the adapters (a limit is written once), and
returns the batch with ``ok``, ``issues`` (codes joined by ";"), ``message`` (Chinese and
English, one line per issue), ``fixable`` and the probe facts ``format, bytes, width,
height, frames, sha256``.  Bad rows become messages; nothing is raised for them.  The rule
table (:data:`imgkit.intake.rules.RULES`) says each code's severity and whether :func:`imgkit.fit`
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
from typing import Any, NamedTuple

import httpx
import numpy as np
import pandas as pd

from imgkit.aliases import BatchSource, ShopsSource
from imgkit.errors import ShopConfigError
from imgkit.intake.batch import read_batch_positions
from imgkit.intake.headers import OPTIONAL_COLUMNS
from imgkit.intake.options import normalize_column
from imgkit.intake.probe import PROBE_COLUMNS
from imgkit.intake.probe_rows import ProbedRows, probe_rows
from imgkit.intake.rules import FIXABLE, RULES, Context, Rule, written
from imgkit.intake.shops import Shop, Shops, default_shops_path, make_shop
from imgkit.intake.shops_files import warn_if_exposed
from imgkit.intake.texts import as_str, as_text, give_back, spread, text_array
from imgkit.words import DEFAULT_LANG, Lang, check_lang

VALIDATION_COLUMNS = ("platform_key", "ok", "issues", "message", "fixable", *PROBE_COLUMNS)
REQUIRED = ("platform", "shop", "file", "target")
# A shop not configured is answered with the names that are, up to this many.
SHOPS_LISTED = 10

# --- shops, read leniently so that one bad shop costs only its own rows ------------------


def _tables(shops: Any) -> tuple[Mapping[str, Any] | None, str]:
    if isinstance(shops, Shops):
        return None, ""
    if shops is None or isinstance(shops, str | os.PathLike):
        path = default_shops_path() if shops is None else shops
        try:
            with open(path, "rb") as fh:
                tables = tomllib.load(fh)
                # stacklevel: the user's validate() or upload(), not this helper.
                warn_if_exposed(path, tables, fh.fileno(), stacklevel=5)
                return tables, ""
        except FileNotFoundError:
            return {}, f"no shops file at {path} / 找不到店铺配置文件 {path}"
        except tomllib.TOMLDecodeError as exc:
            return {}, f"{path} is not valid TOML: {exc} / 店铺配置文件格式错误"
        except (OSError, UnicodeDecodeError) as exc:  # a folder, no permission, not UTF-8
            return {}, f"cannot read shops file {path}: {exc} / 无法读取店铺配置文件 {path}"
    return shops, ""


class LoadedShops(NamedTuple):
    """A shops source read once by :func:`load_shops_lenient`; given again as a source, it
    is taken as it is (an upload reads its shops once)."""

    good: dict[str, Shop]
    bad: dict[str, str]
    problem: str


def load_shops_lenient(shops: Any) -> LoadedShops:
    """(good shops, {bad shop: reason}, a problem with the whole source or "")."""
    if isinstance(shops, LoadedShops):
        return shops
    if isinstance(shops, Shops):
        return LoadedShops(dict(shops), {}, "")
    tables, problem = _tables(shops)
    good: dict[str, Shop] = {}
    bad: dict[str, str] = {}
    for name, table in (tables or {}).items():
        try:
            good[name] = make_shop(name, table)
        except ShopConfigError as exc:
            bad[name] = exc.message
    return LoadedShops(good, bad, problem)


# --- putting it together --------------------------------------------------------------------


def _as_batch(batch: Any) -> tuple[pd.DataFrame, pd.Index]:
    """The batch numbered 0..n-1, and the index labels to give the answer back."""
    # A frame read_batch already normalized (it has ``row``) is taken as it is, minus the
    # columns a previous validation added.
    if isinstance(batch, pd.DataFrame):
        # (Unique labels only: a frame with two "platform" columns is the user's, and
        # read_batch says what is wrong with it.)
        if {*REQUIRED, "row"} <= set(batch.columns) and batch.columns.is_unique:
            frame: pd.DataFrame = batch.drop(
                columns=[c for c in VALIDATION_COLUMNS if c in batch.columns]
            )
            labels = frame.index
            frame = frame.reset_index(drop=True)
            # Made by hand, it may hold None, NaN or numbers: text, as read_batch gives.
            for column in (*REQUIRED, *OPTIONAL_COLUMNS):
                if column in frame.columns:
                    frame[column] = as_text(frame[column])
            return frame, labels
        frame, positions = read_batch_positions(batch)
        # The caller's index survives (results are matched to input rows by it), taken by
        # position: labels may repeat (a pd.concat of two batches).
        return frame, batch.index[positions]
    frame = read_batch_positions(batch)[0]
    return frame, frame.index


def validate(
    batch: BatchSource,
    shops: ShopsSource | LoadedShops = None,
    *,
    workers: int | None = None,
    transport: httpx.BaseTransport | None = None,
    lang: Lang = DEFAULT_LANG,
) -> pd.DataFrame:
    """Check every row of ``batch`` against its platform's limits and its shop.

    ``batch``: a DataFrame, CSV or XLSX path (see :func:`imgkit.read_batch`); ``shops``:
    a shops file, mapping or :class:`imgkit.Shops` (default: ``$IMGKIT_SHOPS``).  Returns the
    batch (same index) with ``platform_key, ok, issues, message, fixable`` and the probe
    facts; its option columns hold each option's canonical text
    (:func:`imgkit.intake.options.normalize`: ``是`` is ``true``, ``2.0`` is ``2``), the
    messages quote the values as written.  Raises only when the batch as a whole is
    unusable (a required column missing).

    Parameters
    ----------
    batch
        A DataFrame, or a CSV / XLSX path (see :func:`imgkit.read_batch`).
    shops
        A shops file, mapping or :class:`imgkit.Shops` (default: ``$IMGKIT_SHOPS``); a
        bad shop costs only its own rows.
    workers
        Threads probing the files (default: chosen from the machine).
    transport
        A synchronous httpx transport the URL sources are downloaded through (``upload``
        hands over the run's own); default: a bare one of validation's own.
    lang
        The language of the messages: ``"zh"``, ``"en"`` or ``"both"`` (``中文 / English``).

    Returns
    -------
    pandas.DataFrame
        The batch (same index) with ``platform_key, ok, issues, message, fixable`` and
        the probe facts ``format, bytes, width, height, frames, sha256``.

    Examples
    --------
    >>> checked = validate("sample_data/batch.csv", shops="sample_data/shops.toml")
    >>> len(checked), bool(checked["ok"].all())
    (15, True)
    >>> first = checked.loc[0]
    >>> first["platform_key"], first["format"], int(first["width"]), int(first["height"])
    ('taobao_picture', 'jpeg', 800, 800)
    >>> one = pd.DataFrame({"platform": ["千米"], "shop": ["qianmi_shop"], "target": ["18353/g1"],
    ...                     "file": ["sample_data/images/mug.jpg"], "position": ["9"]})
    >>> bad = validate(one, shops="sample_data/shops.toml").loc[0]
    >>> bool(bad["ok"]), bad["issues"]
    (False, 'bad_position')
    """
    # Inside, rows are known by position (0..n-1); the caller's labels go back on at the end.
    lang = check_lang(lang)
    # What Arrow's allocator and the C heap hold free (the last answer the caller let go,
    # say) is given back between the steps: each step's temporaries are the next one's
    # room, not added to it.
    give_back()
    frame, labels = _as_batch(batch)
    probed = probe_rows(frame["file"], workers, transport)
    give_back()
    work = frame.copy(deep=False)
    for name, values in probed.for_rules().items():
        work[name] = values
    found = _check(work, load_shops_lenient(shops), lang, probed.known)
    # (The rules' context, with its derived columns, is gone by now: the answer is built
    # without it.)
    del work
    probed.known.clear()
    out = _answer(frame, found, probed)
    out.index = labels
    give_back()  # the rules' Arrow temporaries: the caller keeps only the answer
    return out


def _answer(frame: pd.DataFrame, found: _Found, probed: ProbedRows) -> pd.DataFrame:
    """The batch with what the rules found and the probe facts, numbered 0..n-1.

    The texts first: each row's message is a Python string until it is a column, and the
    masks are needed only for the issues; both are let go before the other columns are
    made (a million rows' probe facts alone are 130 MB).
    """
    message = spread(len(frame), list(found.messages), list(found.messages.values()))
    found.messages.clear()
    issues = _issues(found.issue_sets, found.held)
    found.held.clear()
    give_back()
    # A new frame over the same columns: _as_batch's frame is validation's own (pandas 2
    # copied it there; pandas 3 copies on write), and only whole columns are set below.
    out = frame.copy(deep=False)
    # The rules read the values as written (a message quotes them); everything after
    # validation reads each option's canonical text, normalized here once.
    for name in OPTIONAL_COLUMNS:
        if name in out.columns:
            keys = (found.platform_codes, found.platform_keys)
            out[name] = as_text(normalize_column(name, out[name], keys))
    give_back()
    platform_keys = pd.Series(text_array(found.platform_keys))
    out["platform_key"] = platform_keys.take(found.platform_codes).array
    out["ok"] = ~found.errors
    out["issues"] = issues
    out["message"] = message
    out["fixable"] = found.errors & ~found.unfixable
    for column, values in probed.columns().items():
        out[column] = values
    return out


class _Found(NamedTuple):
    """What the rules found, row by row (positions 0..n-1)."""

    errors: np.ndarray
    unfixable: np.ndarray
    # One number per distinct set of rules that hold for a row, and each rule's mask (in
    # the table's order): the codes of a set are joined once (_issues).
    issue_sets: np.ndarray
    held: list[tuple[str, np.ndarray]]
    # The message of each row that has one.
    messages: dict[int, str]
    platform_codes: np.ndarray
    platform_keys: list[str]


def _check(
    work: pd.DataFrame, shops: LoadedShops, lang: Lang, known: dict[str, tuple[np.ndarray, Any]]
) -> _Found:
    """Every rule over ``work`` (the batch with its probe facts), in the table's order."""
    ctx = Context(work, shops.good, shops.bad, lang, texts=True, known=known)
    errors = np.zeros(len(work), dtype=bool)
    unfixable = np.zeros(len(work), dtype=bool)
    issue_sets = np.zeros(len(work), dtype=np.int64)
    sets_bound = 1
    held: list[tuple[str, np.ndarray]] = []
    messages: dict[int, str] = {}
    for rule in RULES:
        mask = ctx.mask(rule).to_numpy()
        give_back()
        if not mask.any():
            continue
        if rule.severity == "error":
            errors |= mask
            if not rule.fixable:
                unfixable |= mask
        if sets_bound >= 2**61:  # renumber the sets so far before going on
            issue_sets = np.asarray(pd.factorize(issue_sets)[0], dtype=np.int64)
            sets_bound = int(issue_sets.max(initial=0)) + 1
        issue_sets = issue_sets * 2 + mask
        sets_bound *= 2
        held.append((rule.code, mask))
        rows = np.flatnonzero(mask)
        texts = _rule_texts(ctx, rule, rows, shops.problem)
        for row, text in zip(rows.tolist(), texts, strict=True):
            earlier = messages.get(row)
            messages[row] = text if earlier is None else earlier + "\n" + text
    return _Found(
        errors, unfixable, issue_sets, held, messages, ctx.platform_codes, ctx.platform_keys
    )


def _rule_texts(ctx: Context, rule: Rule, rows: np.ndarray, problem: str) -> list[str]:
    """The message of ``rule`` for each of ``rows`` (positions), in their order.

    A rule whose detail declares what it is a function of (``Rule.detail_by``) is worded
    once per distinct combination of it among ``rows``, then mapped onto them.
    """
    label = ctx.say("错误", "error") if rule.severity == "error" else ctx.say("提示", "warning")
    head = f"[{label}] {ctx.say(rule.zh, rule.en)}"
    chosen, spread = rows, None
    if rule.detail_by:
        found, _ = pd.factorize(ctx.groups(*rule.detail_by)[rows])
        spread = np.asarray(found)
        # The first row of each combination speaks for it.
        firsts = np.unique(spread, return_index=True)[1]
        chosen = rows[firsts]
    part = ctx.subset(chosen)
    text = pd.Series(head, index=part.frame.index, dtype=object)
    if rule.detail is not None:
        text = text + " " + as_str(rule.detail(part))
    if rule.code in ("unknown_shop", "bad_shop"):
        text = text + _shop_detail(part, rule.code, problem)
    texts: list[str] = text.tolist()
    if spread is None:
        return texts
    return [texts[k] for k in spread.tolist()]


def _issues(issue_sets: np.ndarray, held: list[tuple[str, np.ndarray]]) -> Any:
    """Each row's codes joined by ";" (compact text), from its set's number: the codes
    of each distinct set are read off one row of it."""
    sets, firsts = np.unique(issue_sets, return_index=True)
    words = [";".join(code for code, mask in held if mask[row]) for row in firsts.tolist()]
    at = np.searchsorted(sets, issue_sets)
    return pd.Series(text_array(words)).take(at).array


def _shop_detail(ctx: Context, code: str, problem: str) -> pd.Series:
    """What is wrong with the shop: its configuration's fault, or (not configured) the
    name as written, the shops that are configured and the shops source's own problem."""
    shop = ctx.col("shop")
    if code == "bad_shop":
        return ": " + shop.map(ctx.bad_shops).fillna("")
    names = sorted([*ctx.shops, *ctx.bad_shops])
    if names:
        listed = ", ".join(names[:SHOPS_LISTED]) + (", …" if len(names) > SHOPS_LISTED else "")
        known = f"{ctx.say('已配置的店铺', 'configured shops')}: {listed}"
    else:
        known = ctx.say("没有配置任何店铺", "no shop is configured")
    suffix = f"; {problem}" if problem else ""
    return " (" + written(ctx, "shop", shop) + "; " + known + suffix + ")"


def issues_table(validated: pd.DataFrame) -> pd.DataFrame:
    """One row per (batch row, issue): ``index, row, code, severity, fixable, message``.

    >>> import pandas as pd
    >>> issues_table(pd.DataFrame({"row": [2], "issues": ["too_large;title_will_be_cut"]}))
    ... # doctest: +NORMALIZE_WHITESPACE
       index  row               code severity  fixable
    0      0    2          too_large    error     True
    1      0    2  title_will_be_cut  warning    False
    """
    # By position: index labels may repeat (a batch made with pd.concat).
    labels = validated.index
    rows = validated["row"] if "row" in validated.columns else pd.Series(labels)
    issues = pd.Series(validated["issues"].to_numpy(), dtype=object)
    codes = issues.fillna("").astype(str).str.split(";").explode()
    codes = codes[codes != ""]
    at = codes.index.to_numpy(dtype=np.int64)
    table = pd.DataFrame(
        {"index": labels[at], "row": rows.to_numpy()[at], "code": codes.to_numpy()}
    )
    table["severity"] = table["code"].map({r.code: r.severity for r in RULES})
    table["fixable"] = table["code"].isin(FIXABLE)
    return table.reset_index(drop=True)
