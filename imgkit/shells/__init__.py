"""The user-facing shells over the library: the command line and the ``df.imgkit`` accessor."""
