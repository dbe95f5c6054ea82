"""The kinds of input the public functions take, named once.

A batch (or a results table) is a DataFrame or the path of a CSV / Excel file; shops are a
shops file, a mapping of shop tables, a :class:`imgkit.Shops`, or None for
``$IMGKIT_SHOPS``.  The names make ``imgkit.upload?`` in Jupyter read as what it takes.

Example
-------
>>> import pandas as pd
>>> from typing import get_args
>>> pd.DataFrame in get_args(BatchSource)
True
>>> Shops in get_args(ShopsSource)
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TypeAlias

import pandas as pd

from imgkit.intake.shops import Shops

# A batch or results table: a DataFrame, or a CSV / XLSX file's path.
BatchSource: TypeAlias = pd.DataFrame | str | os.PathLike[str]
# Shops: a TOML file's path, {shop name: table}, a loaded Shops, or None ($IMGKIT_SHOPS).
ShopsSource: TypeAlias = str | os.PathLike[str] | Mapping[str, Any] | Shops | None
