"""Text lines of a PDF the report writer made: enough of PDF to read it back, no PDF library."""

from __future__ import annotations

import re
import zlib
from collections import defaultdict

_HEAD = re.compile(rb"(?m)^(\d+) 0 obj")
_STREAM = re.compile(rb"stream\n(.*)\nendstream", re.S)
_TOKEN = re.compile(
    rb"/(F\d+)\s+[\d.]+\s+Tf|(-?[\d.]+)\s+(-?[\d.]+)\s+Td|\(((?:\\.|[^\\)])*)\)\s*Tj", re.S
)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _objects(data: bytes) -> dict[int, bytes]:
    """Each object's dictionary and, for a stream, exactly its /Length bytes after it (binary
    data, an image's say, may hold `endobj` or `endstream` by chance)."""
    found: dict[int, bytes] = {}
    position = 0
    while (match := _HEAD.search(data, position)) is not None:
        start = match.end()
        stream = data.find(b"stream", start)
        end = data.find(b"endobj", start)
        length = re.search(rb"/Length (\d+)\b(?! 0 R)", data[start : stream if stream > 0 else end])
        if 0 < stream < end and length is not None:
            begin = stream + len(b"stream") + (2 if data[stream + 6 : stream + 8] == b"\r\n" else 1)
            body = data[start:stream] + b"stream\n" + data[begin : begin + int(length.group(1))]
            found[int(match.group(1))] = body + b"\nendstream"
            position = data.find(b"endobj", begin + int(length.group(1)))
        else:
            found[int(match.group(1))] = data[start:end]
            position = end
        if position < 0:
            break
    return found


def _stream(body: bytes) -> bytes:
    found = _STREAM.search(body)
    if found is None:
        return b""
    data = found.group(1)
    return zlib.decompress(data) if b"/FlateDecode" in body[: found.start()] else data


def _unescape(text: bytes) -> bytes:
    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        if code[:1].isdigit():
            return bytes([int(code, 8)])
        return _ESCAPES.get(code, code)

    return re.sub(rb"\\([0-7]{1,3}|.)", one, text, flags=re.S)


def _cmap(data: bytes) -> dict[int, str]:
    """Character codes to text from a ToUnicode CMap (bfchar and bfrange entries)."""
    found: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for code, text in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            found[int(code, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for low, high, start in re.findall(
            rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
        ):
            first = int(start, 16)
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                found[code] = chr(first + offset)
    return found


def pdf_lines(data: bytes) -> list[str]:
    """Each page's text lines, top to bottom: the strings drawn at one height, left to right."""
    objects = _objects(data)
    maps: dict[int, dict[int, str]] = {}
    for number, body in objects.items():
        unicode = re.search(rb"/ToUnicode (\d+) 0 R", body)
        if unicode:
            maps[number] = _cmap(_stream(objects[int(unicode.group(1))]))
    lines: list[str] = []
    pages = [n for n, body in sorted(objects.items()) if re.search(rb"/Type /Page\b", body)]
    for page in pages:
        body = objects[page]
        contents = re.search(rb"/Contents (\d+) 0 R", body)
        resources = re.search(rb"/Resources (\d+) 0 R", body)
        if contents is None or resources is None:
            continue
        fonts = {
            name.decode(): maps.get(int(ref), {})
            for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", objects[int(resources.group(1))])
        }
        at: dict[float, list[tuple[float, str]]] = defaultdict(list)
        font: dict[int, str] = {}
        x = y = 0.0
        for match in _TOKEN.finditer(_stream(objects[int(contents.group(1))])):
            name, tx, ty, text = match.groups()
            if name is not None:
                font = fonts.get(name.decode(), {})
            elif tx is not None:
                x, y = float(tx), float(ty)
            else:
                raw = _unescape(text)
                codes = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
                at[round(y, 1)].append((x, "".join(font.get(c, "\ufffd") for c in codes)))
        for height in sorted(at, reverse=True):
            lines.append(" ".join(text for _, text in sorted(at[height])))
    return lines
