"""Stage 2, the upload engine: plan, pace, send, retry, settle, journal.

``uploads`` holds the public calls (``upload``, ``refresh``, ``retry_failed``);
``scheduler`` runs many rows at once, ``runner`` takes one row through its course, ``run``
holds a run's state; ``exchange`` is the one exchange loop every request goes through
(``polls`` and ``settle`` use it for audits and look-ups, ``tokens`` keeps what it
fetches); ``plan``, ``pacing``, ``retry`` and ``journal`` each own one decision;
``transport`` and ``blocking`` are the wires; ``single`` is ``upload_one``.
"""
