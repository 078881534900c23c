"""QR codes for GS1 Digital Link URIs: decoded with zxing-cpp, PNG and SVG read module by module."""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET
from fractions import Fraction

import pytest
import zxingcpp
from PIL import Image

from provenance.gs1.qr import _matrix, qr_data_uri, qr_png, qr_svg

URI = "https://provenance.example/01/09506000134352/10/ABC123/21/XYZ%2F1?17=281231"
SVG = "{http://www.w3.org/2000/svg}"


def decode_qr(png: bytes) -> list[str]:
    with Image.open(io.BytesIO(png)) as image:
        found = zxingcpp.read_barcodes(image.convert("L"))
    assert all(b.format == zxingcpp.BarcodeFormat.QRCode and b.ec_level == "M" for b in found)
    return [b.text for b in found]


def long_uri() -> str:
    uri = URI + "&3103=000189&linkType=gs1:pip&note="
    return uri + "x" * (300 - len(uri))


@pytest.mark.parametrize("uri", [URI, long_uri()], ids=["typical", "300 chars"])
def test_png_round_trips_through_a_decoder(uri: str) -> None:
    assert len(uri) in (len(URI), 300)
    assert decode_qr(qr_png(uri)) == [uri]


def test_png_pixels_are_the_module_matrix() -> None:
    matrix, box, border = _matrix(URI), 5, 2
    with Image.open(io.BytesIO(qr_png(URI, box_size=box, border=border))) as image:
        assert image.format == "PNG"
        assert image.size == ((len(matrix) + 2 * border) * box,) * 2
        grey = image.convert("L")
        centre = border * box + box // 2
        drawn = [
            [grey.getpixel((centre + c * box, centre + r * box)) == 0 for c in range(len(row))]
            for r, row in enumerate(matrix)
        ]
    assert drawn == matrix


def test_svg_is_titled_xml_whose_path_is_the_module_matrix() -> None:
    matrix, box, border = _matrix(URI), 5, 2
    root = ET.fromstring(qr_svg(URI, box_size=box, border=border))
    assert root.tag == f"{SVG}svg"
    # qrcode lays SVG out at ten box_size units to the millimetre.
    side = Fraction((len(matrix) + 2 * border) * box, 10)
    assert [Fraction(n) for n in root.get("viewBox", "").split()] == [0, 0, side, side]
    assert Fraction(root.get("width", "").removesuffix("mm")) == side
    assert root.get("height") == root.get("width")
    assert root.findtext(f"{SVG}title") == URI
    (path,) = root.iter(f"{SVG}path")
    squares = re.findall(r"M([\d.]+),([\d.]+)H[\d.]+V[\d.]+H[\d.]+z", path.get("d", ""))
    dark = {
        (int(Fraction(y) * 10 / box) - border, int(Fraction(x) * 10 / box) - border)
        for x, y in squares
    }
    assert dark == {(r, c) for r, row in enumerate(matrix) for c, on in enumerate(row) if on}


def test_svg_title_escapes_and_drops_what_xml_cannot_hold() -> None:
    data = "]01<09506000134352>&\x1d10ABC"
    assert ET.fromstring(qr_svg(data)).findtext(f"{SVG}title") == data.replace("\x1d", "\ufffd")


def test_data_uri_carries_the_svg() -> None:
    prefix = "data:image/svg+xml;base64,"
    uri = qr_data_uri(URI)
    assert uri.startswith(prefix)
    assert base64.b64decode(uri.removeprefix(prefix), validate=True).decode() == qr_svg(URI)


def test_different_data_give_different_images() -> None:
    other = URI.replace("ABC123", "ABC124")
    assert _matrix(URI) != _matrix(other)
    assert qr_png(URI) != qr_png(other)
    assert qr_svg(URI) != qr_svg(other)


@pytest.mark.parametrize("data", ["", "x" * 3000], ids=["empty", "too long"])
def test_unencodable_data_raises_value_error(data: str) -> None:
    for render in (qr_png, qr_svg, qr_data_uri):
        with pytest.raises(ValueError):
            render(data)
