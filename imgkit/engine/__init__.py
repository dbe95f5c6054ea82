"""Stage 2, the upload engine: plan, pace, send, retry, settle, journal.

``uploads`` holds the public calls (``upload``, ``retry_failed``; ``refresh`` in ``refresh``);
``scheduler`` runs many rows at once, ``runner`` takes one row through its course, ``run``
holds a run's state; ``exchange`` is the one exchange loop every request goes through
(``polls`` and ``settle`` use it for audits and look-ups, ``tokens`` keeps what it
fetches); ``plan``, ``pacing``, ``retry`` and ``journal`` each own one decision;
``single`` is ``upload_one``.  The wire they send through is :mod:`imgkit.net`.
"""
