"""Images for ``Live.log_image``: a file, a Pillow image or a numpy array, as image bytes.

A numpy array is encoded as PNG here (zlib, no Pillow needed): 2-D grey, or H x W x 1/3/4
(grey, RGB, RGBA); uint8 as is, bool as black/white, floats in [0, 1] scaled to 0..255.
A file is copied as it is when it is a PNG, JPEG, GIF or WebP (told by its first bytes).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from gitml.errors import BadInputError

MAGIC = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg", b"GIF87a": "gif",
         b"GIF89a": "gif"}
EXTS = ("png", "jpg", "gif", "webp")
MAX_BYTES = 64 << 20


def kind_of(data: bytes) -> str | None:
    """png, jpg, gif or webp from the first bytes; None for anything else (SVG included:
    an image that can carry script is not an image here)."""
    for magic, kind in MAGIC.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def encode(image: Any, what: str) -> tuple[bytes, str]:
    """(bytes, extension) of ``image``: a path, a Pillow image or an array."""
    import os

    if isinstance(image, (str, os.PathLike)):
        try:
            with open(image, "rb") as f:
                data = f.read(MAX_BYTES + 1)
        except OSError as e:
            raise BadInputError(f"{what}: cannot read {image}: {e.strerror}") from None
        kind = kind_of(data)
        if kind is None or len(data) > MAX_BYTES:
            raise BadInputError(f"{what}: {image} is not a PNG, JPEG, GIF or WebP image "
                                f"of at most {MAX_BYTES >> 20} MiB")
        return data, kind
    if hasattr(image, "save") and hasattr(image, "mode"):  # a Pillow image
        import io

        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return buf.getvalue(), "png"
    if hasattr(image, "__array_interface__") or hasattr(image, "__array__"):
        return png(image, what), "png"
    raise BadInputError(f"{what}: expected a file path, a Pillow image or a numpy array, "
                        f"not {type(image).__name__}")


def numpy() -> Any:
    """numpy, or one clear line saying how to get it."""
    try:
        import numpy as np
    except ImportError:
        raise BadInputError("this needs numpy: pip install 'gitml[live]'") from None
    return np


def png(array: Any, what: str = "image") -> bytes:
    """A numpy array as PNG bytes."""
    np = numpy()

    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or 0 in a.shape:
        raise BadInputError(f"{what}: expected an H x W, H x W x 3 or H x W x 4 array, "
                            f"not shape {a.shape}")
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise BadInputError(f"{what}: the array has NaN or infinite values")
        a = (np.clip(a, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    elif a.dtype != np.uint8:
        if a.min() < 0 or a.max() > 255:
            raise BadInputError(f"{what}: integer pixels must be 0..255 (or floats in 0..1)")
        a = a.astype(np.uint8)
    h, w = a.shape[:2]
    color = 0 if a.ndim == 2 else (2 if a.shape[2] == 3 else 6)  # grey, RGB, RGBA
    rows = np.ascontiguousarray(a).reshape(h, -1)
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(h))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + tag + body
                + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
