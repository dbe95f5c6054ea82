"""The small integers a journal row names what many rows repeat by: places, texts, runs.

A row of ``uploads`` (:mod:`imgkit.engine.journal_schema`) does not repeat its platform,
endpoint, account and shop (``places``), its file's folder or its URL's base (``texts``), nor
the id of the run sending it (``runs``): it holds their id, one or two bytes.  :class:`Ids`
finds or makes those ids inside the writer's open transaction and remembers them.  Ids are
never deleted nor renumbered, so what is remembered stays true for every connection — but an
id made in a transaction that is rolled back is gone: the writer then calls
:meth:`Ids.forget`.

Example
-------
>>> import sqlite3
>>> from imgkit.engine.journal_schema import setup
>>> db = sqlite3.connect(":memory:", isolation_level=None)
>>> _ = setup(db, ":memory:")
>>> ids = Ids()
>>> ids.text(db, "/data/shoot/"), ids.text(db, "/data/other/"), ids.text(db, "/data/shoot/")
(1, 2, 1)
>>> ids.text(db, ""), ids.run(db, ""), ids.run(db, "never-started")
(None, None, 1)
"""

from __future__ import annotations

import sqlite3


class Ids:
    """Remembered ids of one journal file (one per connection that writes)."""

    def __init__(self) -> None:
        self._places: dict[tuple[str, str, str, str], int] = {}
        self._texts: dict[str, int] = {}
        self._runs: dict[str, int] = {}

    def place(
        self, db: sqlite3.Connection, platform: str, endpoint: str, account: str, shop: str
    ) -> int | None:
        """The id of that place (None when all four are empty), made if new."""
        what = (platform, endpoint, account, shop)
        found = self._places.get(what)
        if found is None:
            if not any(what):
                return None
            db.execute(
                "INSERT OR IGNORE INTO places (platform, endpoint, account, shop) "
                "VALUES (?, ?, ?, ?)",
                what,
            )
            (found,) = db.execute(
                "SELECT id FROM places WHERE platform = ? AND endpoint = ? AND account = ? "
                "AND shop = ?",
                what,
            ).fetchone()
            self._places[what] = found
        return found

    def text(self, db: sqlite3.Connection, text: str) -> int | None:
        """The id of ``text`` (None for ""), made if new."""
        found = self._texts.get(text)
        if found is None:
            if not text:
                return None
            db.execute("INSERT OR IGNORE INTO texts (text) VALUES (?)", (text,))
            (found,) = db.execute("SELECT id FROM texts WHERE text = ?", (text,)).fetchone()
            self._texts[text] = found
        return found

    def run(self, db: sqlite3.Connection, run_id: str) -> int | None:
        """The id of the run ``run_id`` (None for ""): one never registered (a caller's
        own name for it) is entered as over, so that what it sends is in doubt once left."""
        found = self._runs.get(run_id)
        if found is None:
            if not run_id:
                return None
            row = db.execute("SELECT id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is not None:
                (found,) = row
            else:
                found = db.execute(
                    "INSERT INTO runs (run_id, pid, host, started, beat, ended) "
                    "VALUES (?, 0, '', 0, 0, 0)",
                    (run_id,),
                ).lastrowid
            assert found is not None
            self._runs[run_id] = found
        return found

    def forget(self) -> None:
        """A transaction was rolled back: ids made in it may be gone."""
        self._places.clear()
        self._texts.clear()
        self._runs.clear()
