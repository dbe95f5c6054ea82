"""imgkit: bulk product-image uploads to Chinese e-commerce platforms.

The sandbox (:class:`imgkit.Sandbox`) emulates all five platforms on loopback; the demo and
the tests run against it.  :func:`upload_one` sends one image through a platform adapter.

Example
-------
>>> import imgkit
>>> with imgkit.Sandbox() as sb:
...     sorted(sb.shops)[0]
'douyin_shop'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imgkit.aliases import BatchSource, ShopsSource
from imgkit.engine.journal import Journal
from imgkit.engine.refresh import refresh
from imgkit.engine.retry import RetryPolicy
from imgkit.engine.single import upload_one
from imgkit.engine.uploads import retry_failed, upload, upload_async
from imgkit.errors import Category, ImgkitError, ShopConfigError, UnknownPlatformError
from imgkit.excel import template, to_excel
from imgkit.intake.batch import read_batch
from imgkit.intake.fitting import fit
from imgkit.intake.shops import Shop, Shops, load_shops
from imgkit.intake.validation import issues_table, validate
from imgkit.platforms import get_adapter, platform_keys, resolve_platform
from imgkit.platforms.base import Outcome
from imgkit.report.history import history
from imgkit.report.readback import read_results
from imgkit.report.verify import verify, verify_async
from imgkit.samples import sample_data
from imgkit.secret import Secret
from imgkit.shells import accessor as _accessor  # registers df.imgkit

__version__ = "0.1.0.dev0"
__all__ = [
    "BatchSource",
    "Category",
    "ImgkitError",
    "Journal",
    "Outcome",
    "RetryPolicy",
    "Sandbox",
    "Secret",
    "Shop",
    "ShopConfigError",
    "Shops",
    "ShopsSource",
    "UnknownPlatformError",
    "__version__",
    "fit",
    "get_adapter",
    "history",
    "issues_table",
    "load_shops",
    "panel",
    "platform_keys",
    "read_batch",
    "read_results",
    "refresh",
    "resolve_platform",
    "retry_failed",
    "sample_data",
    "template",
    "to_excel",
    "upload",
    "upload_async",
    "upload_one",
    "validate",
    "verify",
    "verify_async",
]
del _accessor

if TYPE_CHECKING:
    from imgkit.sandbox import Sandbox
    from imgkit.shells.panel import panel


def __getattr__(name: str) -> Any:
    # The sandbox (starlette, uvicorn) loads on first use: ``import imgkit`` stays light
    # for a script that only validates or uploads to real platforms.
    if name == "Sandbox":
        from imgkit.sandbox import Sandbox

        return Sandbox
    if name == "panel":  # ipywidgets too: loaded when a panel is asked for
        from imgkit.shells.panel import panel

        return panel
    raise AttributeError(f"module 'imgkit' has no attribute {name!r}")
