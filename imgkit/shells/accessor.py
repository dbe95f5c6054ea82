"""``df.imgkit``: the toolkit's functions as a thin pandas accessor.

Registered when :mod:`imgkit` is imported.

Example
-------
>>> import pandas as pd, imgkit
>>> from imgkit.sandbox import sandbox_shops
>>> batch = pd.DataFrame({"platform": ["tmall_item"], "shop": ["tmall_store"],
...                       "file": ["sample_data/images/mug.jpg"], "target": ["1489161940"]})
>>> bool(batch.imgkit.validate(shops=sandbox_shops("http://127.0.0.1:9"))["ok"].all())
True
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pandas as pd

from imgkit.words import Lang

if TYPE_CHECKING:  # imported when called: importing imgkit stays light
    from imgkit.report.view import View
    from imgkit.shells.panel import Panel


@pd.api.extensions.register_dataframe_accessor("imgkit")
class ImgkitAccessor:
    """``df.imgkit.validate()``, ``.fit()`` and ``.upload()`` on a batch frame; ``.view()``
    on a results or validated frame."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def validate(self, shops: Any = None, **options: Any) -> pd.DataFrame:
        """Same as :func:`imgkit.validate` on this frame."""
        from imgkit.intake.validation import validate

        return validate(self._frame, shops, **options)

    def upload(self, shops: Any = None, **options: Any) -> pd.DataFrame:
        """Same as :func:`imgkit.upload` on this frame."""
        from imgkit.engine.uploads import upload

        return upload(self._frame, shops, **options)

    def fit(
        self, out_dir: str | os.PathLike[str] | None = None, *, shops: Any = None
    ) -> pd.DataFrame:
        """Same as :func:`imgkit.fit` on this frame."""
        from imgkit.intake.fitting import fit

        return fit(self._frame, out_dir, shops=shops)

    def view(self, lang: Lang = "both", thumbnails: bool = False, limit: int = 200) -> View:
        """Same as :func:`imgkit.report.view.view` on this frame: a table to look at.

        >>> import pandas as pd
        >>> print(pd.DataFrame({"status": ["uploaded"]}).imgkit.view(lang="en"))
        1 rows: 1 uploaded
          status
        uploaded
        """
        from imgkit.report.view import view

        return view(self._frame, lang=lang, thumbnails=thumbnails, limit=limit)

    def panel(self, shops: Any = None, lang: Lang = "both", journal: Any = None) -> Panel:
        """Same as :func:`imgkit.panel` on this frame: validate, fit and upload by clicking.

        >>> import imgkit, pandas as pd
        >>> shown = imgkit.read_batch(imgkit.sample_data() / "batch.csv").imgkit.panel(lang="en")
        >>> shown.status.value.endswith("15 rows")
        True
        >>> shown.close()
        """
        from imgkit.shells.panel import panel

        return panel(self._frame, shops, lang=lang, journal=journal)
