"""Stage 2, the upload engine: plan, pace, send, retry, settle, journal.

``uploads`` holds the public calls (``upload``, ``refresh``, ``retry_failed``); ``runner``
drives a run; ``plan``, ``pacing``, ``retry``, ``settle`` and ``journal`` each own one
decision; ``transport`` carries every exchange; ``single`` is ``upload_one``.
"""
