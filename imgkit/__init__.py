"""imgkit: bulk product-image uploads to Chinese e-commerce platforms.

The sandbox (:class:`imgkit.Sandbox`) emulates all five platforms on loopback; the demo and
the tests run against it.

Example
-------
>>> import imgkit
>>> with imgkit.Sandbox() as sb:
...     sorted(sb.shops)[0]
'douyin_shop'
"""

from __future__ import annotations

from imgkit.sandbox import Sandbox

__version__ = "0.1.0.dev0"
__all__ = ["Sandbox", "__version__"]
