"""Stage 1, intake: reading a batch and its shops, probing files, validating, fitting.

``batch`` reads a DataFrame, CSV or Excel sheet; ``shops`` reads credentials; ``probe`` and
``files`` read image facts safely; ``sources`` downloads URL sources; ``rules`` and
``validation`` check every row against the platforms' limits; ``fitting`` repairs images.
"""
