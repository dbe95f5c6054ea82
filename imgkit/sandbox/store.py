"""Uploaded images, kept byte-for-byte and served back at the URLs the platforms return.

Each stored image remembers where it went (platform, shop, target).  Storing identical
bytes a second time at the same place, other than by replacing an image, is what the
stats call a *duplicate*: the thing a careful uploader must never cause.

Example
-------
>>> from imgkit.sandbox.imageinfo import inspect_image
>>> store = ImageStore()
>>> data = b"GIF89a"
>>> first, dup1 = store.put("doudian", "s", "0", data, inspect_image(data))
>>> second, dup2 = store.put("doudian", "s", "0", data, inspect_image(data))
>>> (dup1, dup2)
(False, True)
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass

from imgkit.sandbox.imageinfo import ImageFacts

IMAGE_ROUTE = "/img"


@dataclass
class StoredImage:
    """One image as stored: where it went and its bytes."""

    key: str
    platform: str
    shop: str
    target: str
    data: bytes
    facts: ImageFacts
    created: float

    def url(self, base_url: str) -> str:
        """The absolute URL this image is served at."""
        return f"{base_url.rstrip('/')}{IMAGE_ROUTE}/{self.key}"


class ImageStore:
    """All stored images by key, plus the placements used to count duplicates."""

    def __init__(self) -> None:
        self._images: dict[str, StoredImage] = {}
        # Live copies per (platform, shop, target, sha256): a replace retires the old bytes.
        self._placements: Counter[tuple[str, str, str, str]] = Counter()
        self._serial = itertools.count(1)

    def put(
        self,
        platform: str,
        shop: str,
        target: str,
        data: bytes,
        facts: ImageFacts,
        *,
        replace: bool = False,
        key: str | None = None,
    ) -> tuple[StoredImage, bool]:
        """Store ``data``; return the image and whether it duplicates an earlier upload.

        ``replace=True`` marks a replace-by-id call, which is never a duplicate; with the
        ``key`` of a stored image the bytes are swapped in place and its URL stays the same.
        A ``key`` not stored yet (an image the world seeded, served from
        :mod:`imgkit.sandbox.seeded`) is taken as is, so a replaced seeded image keeps its
        URL too.
        """
        placement = (platform, shop, target, facts.sha256)
        duplicate = not replace and self._placements[placement] > 0
        old = self._images.get(key) if key is not None else None
        if old is not None:
            retired = (old.platform, old.shop, old.target, old.facts.sha256)
            self._placements[retired] -= 1
            if self._placements[retired] <= 0:
                del self._placements[retired]
        self._placements[placement] += 1
        if key is None:
            key = f"{platform}/{next(self._serial):08d}{facts.sha256[:16]}.{facts.extension}"
        image = StoredImage(key, platform, shop, target, data, facts, time.time())
        self._images[key] = image
        return image, duplicate

    def get(self, key: str) -> StoredImage | None:
        """The image stored under ``key`` (the part of its URL after ``/img/``)."""
        return self._images.get(key)

    def images(self) -> list[StoredImage]:
        """Every stored image, in storing order (a replaced image holds its new bytes)."""
        return list(self._images.values())

    def find(self, platform: str, shop: str, sha256: str) -> StoredImage | None:
        """The first image of ``shop`` on ``platform`` with these bytes, if any."""
        for image in self._images.values():
            if (image.platform, image.shop, image.facts.sha256) == (platform, shop, sha256):
                return image
        return None

    def __len__(self) -> int:
        return len(self._images)
