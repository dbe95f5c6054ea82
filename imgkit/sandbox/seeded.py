"""Images the sandbox world says a target already had, served like uploaded ones.

Some Tmall items and Qianmi SKUs start with images (a main image, a full SKU).  Nobody
uploaded them, yet a look-up lists them and a client downloads every listed URL to compare
bytes, so each seeded image has a key under ``/img/<platform>/seeded/`` and small,
deterministic PNG bytes of its own (the key is written into the PNG, so no two seeded
images share bytes and none equals a typical upload).

Example
-------
>>> key = seeded_key("tmall_item", "1489161932", 0)
>>> key
'tmall_item/seeded/1489161932/0.png'
>>> seeded_png(key).startswith(b"\\x89PNG") and seeded_png(key) == seeded_png(key)
True
"""

from __future__ import annotations

import functools
import hashlib
import io

from PIL import Image
from PIL.PngImagePlugin import PngInfo

SEEDED_DIR = "seeded"
_SIDE = 16


def seeded_key(platform: str, owner: str, n: int) -> str:
    """The store key of the ``n``-th seeded image of ``owner`` (an item, ``item/sku``)."""
    return f"{platform}/{SEEDED_DIR}/{owner}/{n}.png"


@functools.lru_cache(maxsize=256)
def seeded_png(key: str) -> bytes:
    """The bytes served for seeded image ``key``: a plain square PNG that names its key."""
    red, green, blue = hashlib.sha256(key.encode("utf-8")).digest()[:3]
    info = PngInfo()
    info.add_text("imgkit-sandbox-seeded", key)
    out = io.BytesIO()
    Image.new("RGB", (_SIDE, _SIDE), (red, green, blue)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()
