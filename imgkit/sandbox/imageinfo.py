"""What an uploaded file really is: format by magic bytes, pixel size, decodability.

Platforms judge content, not file names: a PNG renamed ``.jpg`` is a PNG, and a text file
is not an image whatever it is called.

Example
-------
>>> sniff_format(b"\\x89PNG\\r\\n\\x1a\\n....")
'png'
>>> inspect_image(b"hello").format is None
True
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)

# Beyond this many pixels the sandbox refuses to decode, as a real image service would.
MAX_PIXELS = 100_000_000


def sniff_format(data: bytes) -> str | None:
    """The image format named by the leading bytes, or None for anything else."""
    for magic, name in _SIGNATURES:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif"):
        return "heic" if data[8:12] != b"avif" else "avif"
    return None


@dataclass(frozen=True)
class ImageFacts:
    """Facts about uploaded bytes.  ``decodable`` is False for corrupt or truncated data."""

    format: str | None
    width: int
    height: int
    size: int
    sha256: str
    decodable: bool

    @property
    def extension(self) -> str:
        """The usual file extension for the format (``jpg`` for JPEG)."""
        return {"jpeg": "jpg", None: "bin"}.get(self.format, self.format or "bin")

    @property
    def content_type(self) -> str:
        """The MIME type to serve the bytes with."""
        return f"image/{self.format}" if self.format else "application/octet-stream"


def inspect_image(data: bytes) -> ImageFacts:
    """Sniff, measure and fully decode ``data`` (cheaply for JPEG, via draft mode)."""
    digest = hashlib.sha256(data).hexdigest()
    fmt = sniff_format(data)
    width = height = 0
    decodable = False
    if fmt is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as img:
                    width, height = img.size
                    if width * height <= MAX_PIXELS:
                        if fmt == "jpeg":
                            img.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                        img.load()
                        decodable = True
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            decodable = False
    return ImageFacts(fmt, width, height, len(data), digest, decodable)
