"""Stage 3, reporting: the results frame, reading it back, the journal's history, verify."""
