"""SAS transport (XPORT) files: the V5 record layout of SAS TS-140 checked and read as a stream."""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from trials.errors import BadDataset

RECORD = 80
_HEADER = re.compile(rb"HEADER RECORD\*{7}([A-Z0-9 ]{8})HEADER RECORD!{7}([0-9 ]{30})  ")
_V5_NAMES = {
    "library": b"LIBRARY ",
    "member": b"MEMBER  ",
    "descriptor": b"DSCRPTR ",
    "namestr": b"NAMESTR ",
    "obs": b"OBS     ",
}
# ntype, nhfun, nlng, nvar0, nname, nlabel, nform, nfl, nfd, nfj, nfill, niform, nifl, nifd,
# npos: the NAMESTR structure's fields, big-endian, before its 52 unused bytes.
_NAMESTR = struct.Struct(">hhhh8s40s8shhh2s8shhi")
_MISSING_TAGS = frozenset(b"._ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_MEMBER_MARK = b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!"
_CHUNK = RECORD * 1024  # whole records, 80 KiB


@dataclass(frozen=True)
class Variable:
    name: str
    numeric: bool
    length: int
    position: int
    sas_format: str | None


@dataclass(frozen=True)
class Member:
    """One dataset of the file: its name, variables and observation length."""

    name: str | None
    variables: tuple[Variable, ...]

    @property
    def observation_length(self) -> int:
        return sum(v.length for v in self.variables)


def is_v5(head: bytes) -> bool:
    """V5 files open with the LIBRARY header record; V8 and V9 ones with LIBV8."""
    match = _HEADER.match(head[:RECORD])
    return match is not None and match.group(1) == _V5_NAMES["library"]


def read_member(stream: IO[bytes]) -> Member:
    """The header records up to the first member's observations, each one checked; the stream
    is left at its first observation."""
    _expect(stream, "library", "the library header")
    _record(stream, "the first real header")
    _record(stream, "the modified-date header")
    member = _expect(stream, "member", "the member header")
    size = int(member[-6:-2])
    if size not in (136, 140):
        raise BadDataset(f"XPT member header gives a NAMESTR length of {size}, not 140 or 136")
    _expect(stream, "descriptor", "the member descriptor header")
    name = _record(stream, "the member's real header")[8:16].decode("ascii", "replace").strip()
    _record(stream, "the member's second header")
    count_text = _expect(stream, "namestr", "the NAMESTR header")[54:58]
    if not count_text.isdigit() or int(count_text) == 0:
        raise BadDataset(f"XPT NAMESTR header gives {count_text!r} variables")
    count = int(count_text)
    padded = -(-count * size // RECORD) * RECORD
    block = _exactly(stream, padded, f"the {count} NAMESTR records")
    variables = tuple(
        _variable(block[i * size : i * size + size].ljust(140, b" "), i + 1) for i in range(count)
    )
    position = 0
    for variable in variables:
        if variable.position != position:
            raise BadDataset(
                f"XPT variable {variable.name} starts at byte {variable.position} of the "
                f"observation, not at {position} where the one before it ends"
            )
        position += variable.length
    _expect(stream, "obs", "the OBS header")
    return Member(name or None, variables)


def _variable(record: bytes, number: int) -> Variable:
    fields = _NAMESTR.unpack_from(record)
    ntype, _, length, _, name_bytes, _, form, width, decimals = fields[:9]
    name = name_bytes.decode("ascii", "replace").strip()
    if ntype not in (1, 2) or not name:
        raise BadDataset(f"XPT NAMESTR record {number} is damaged (type {ntype}, name {name!r})")
    if (ntype == 1 and not 2 <= length <= 8) or (ntype == 2 and not 1 <= length <= 200):
        raise BadDataset(f"XPT variable {name} has an impossible length {length}")
    form_name = form.decode("ascii", "replace").strip()
    sas_format = f"{form_name}{width or ''}.{decimals or ''}" if form_name else None
    return Variable(name, ntype == 1, length, fields[14], sas_format)


def observations(stream: IO[bytes], member: Member) -> Iterator[tuple[object, ...]]:
    """The member's observations as they are read: str (blanks kept) or float (None: missing).
    A data area that is not a whole number of observations plus blank padding is BadDataset,
    and so is a file that holds a second member."""
    width = member.observation_length
    decoders = [(v.position, v.length, v.numeric) for v in member.variables]
    pending = b""
    read = 0  # observations yielded
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        data = pending + chunk
        mark = data.find(_MEMBER_MARK)
        if mark >= 0 and (read * width + mark) % RECORD == 0:
            raise BadDataset("the XPT file holds more than one dataset: submit one per file")
        # Hold back the last record: it may be padding, or start a second member's header.
        usable = max(0, len(data) - RECORD - len(_MEMBER_MARK)) // width * width
        for start in range(0, usable, width):
            yield _decode(data[start : start + width], decoders)
        read += usable // width
        pending = data[usable:]
    whole, tail = divmod(len(pending), width)
    total = read * width + len(pending)
    if total % RECORD:
        raise BadDataset(
            f"the XPT file is cut short: its data area is {total} bytes, not a whole number of "
            f"{RECORD}-byte records (observations are {width} bytes)",
            observations=read + whole,
        )
    # The last record is padded with blanks; observations that are nothing but blanks inside
    # it are that padding (TS-140 notes readers cannot tell them apart).
    while whole and tail + width <= RECORD and _blank(pending[(whole - 1) * width :]):
        whole, tail = whole - 1, tail + width
    if not _blank(pending[whole * width :]):
        raise BadDataset(
            f"the XPT file is cut short: its data area ends inside observation "
            f"{read + whole + 1} ({tail} of its {width} bytes)",
            observations=read + whole,
        )
    for start in range(0, whole * width, width):
        yield _decode(pending[start : start + width], decoders)


def _blank(data: bytes) -> bool:
    return data.count(b" ") == len(data)


def _decode(data: bytes, decoders: list[tuple[int, int, bool]]) -> tuple[object, ...]:
    out: list[object] = []
    for position, length, numeric in decoders:
        value = data[position : position + length]
        out.append(ibm_double(value) if numeric else _text(value))
    return tuple(out)


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadDataset(f"XPT character value is not UTF-8: {exc.reason}") from exc


def ibm_double(value: bytes) -> float | None:
    """An IBM System/360 hexadecimal float (truncated to its first bytes) as a double, its low
    bits cut off rather than rounded, as SAS's own conversion routine does; None if missing."""
    padded = value.ljust(8, b"\x00")
    fraction = int.from_bytes(padded[1:8], "big")
    if not fraction:
        return None if padded[0] in _MISSING_TAGS else 0.0
    extra = fraction.bit_length() - 53
    if extra > 0:
        fraction = fraction >> extra << extra
    exponent = 4 * ((padded[0] & 0x7F) - 64) - 56
    result = math.ldexp(float(fraction), exponent)
    return -result if padded[0] & 0x80 else result


def _record(stream: IO[bytes], what: str) -> bytes:
    return _exactly(stream, RECORD, what)


def _exactly(stream: IO[bytes], size: int, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise BadDataset(f"the XPT file is cut short: it ends in {what}")
    return data


def _expect(stream: IO[bytes], kind: str, what: str) -> bytes:
    record = _record(stream, what)
    match = _HEADER.fullmatch(record)
    if match is None or match.group(1) != _V5_NAMES[kind]:
        found = record[:48].decode("ascii", "replace")
        raise BadDataset(f"XPT file is damaged: expected {what} record, found {found!r}")
    return record
