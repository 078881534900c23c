"""QR code images (PNG, SVG, data URI) for GS1 Digital Link URIs on labels."""

from __future__ import annotations

import base64
import io
import re
from typing import Any

import qrcode  # type: ignore[import-untyped]
from qrcode.exceptions import DataOverflowError  # type: ignore[import-untyped]
from qrcode.image.pil import PilImage  # type: ignore[import-untyped]
from qrcode.image.svg import SvgPathImage  # type: ignore[import-untyped]

# Characters XML 1.0 cannot carry even escaped; GS1 element strings may hold GS (0x1D).
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _code(data: str, box_size: int, border: int) -> Any:
    """A compiled qrcode.QRCode; one builder so every output format carries the same symbol."""
    if not data:
        raise ValueError("QR code data must not be empty")
    # GS1 recommends level M for Digital Link: tolerates label wear without a much bigger symbol.
    code = qrcode.QRCode(
        version=None,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=border,
    )
    code.add_data(data)
    try:
        code.make(fit=True)
    except DataOverflowError as exc:
        raise ValueError(f"{len(data)} characters do not fit in a QR code at level M") from exc
    return code


def _matrix(data: str) -> list[list[bool]]:
    """The module grid of `data` without quiet zone, True for a dark module."""
    return [[bool(module) for module in row] for row in _code(data, 1, 0).modules]


def qr_png(data: str, *, box_size: int = 8, border: int = 4) -> bytes:
    """PNG bytes of a QR code of `data`, `box_size` pixels a module, `border` modules of margin."""
    image = _code(data, box_size, border).make_image(image_factory=PilImage)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def qr_svg(data: str, *, box_size: int = 8, border: int = 4) -> str:
    """A standalone SVG document of a QR code of `data`, titled with `data` for screen readers.

    Sizes are in millimetres, ten `box_size` units to the millimetre, as qrcode lays them out.
    """
    image = _code(data, box_size, border).make_image(image_factory=SvgPathImage)
    svg = image.get_image()
    title = svg.makeelement("title", {})
    # The symbol keeps the exact data; only the human-readable title loses unencodable characters.
    title.text = _NOT_XML_CHAR.sub("\ufffd", data)
    svg.insert(0, title)
    # No XML declaration: XML without one is UTF-8, and lxml rejects a str that declares one.
    return str(image.to_string(encoding="unicode"))


def qr_data_uri(data: str) -> str:
    """`qr_svg(data)` as a base64 data URI for an <img> src on printable label sheets."""
    encoded = base64.b64encode(qr_svg(data).encode("utf-8")).decode("ascii")
    return f"data:image/svg+xml;base64,{encoded}"
