"""What a photo really is: decoded from its bytes, never taken from the name or the type a browser
or a server claims. Only the formats a phone sends are opened (Pillow's other parsers are never
tried on a stranger's bytes), and a picture too large to be a photo is refused before it is decoded
(a few kilobytes can claim to be 50,000 × 50,000 pixels)."""
from __future__ import annotations

import io
import warnings

from PIL import Image

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
MAX_PIXELS = 50_000_000  # a 48-megapixel phone photo fits; a decompression bomb does not


def identify(data: bytes) -> str | None:
    """The image's content type when `data` decodes as a JPEG, PNG, GIF or WEBP picture; else None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
                if image.width * image.height > MAX_PIXELS:
                    return None
                image.load()  # the whole picture, not only its header
                return FORMATS.get(image.format)
    except Exception:  # any parser's complaint about a stranger's bytes means "not a photo"
        return None
