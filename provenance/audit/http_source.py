"""A log server as a monitor's `LogSource`: checkpoint, hash tiles, entries, payloads over HTTP.

Entry bundles (/log/tile/entries/...) are for regulators; anyone else reads entries one by one
at /api/v1/log/entries/<i>, where the server answers 401 or 403 for those it may not read.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

from cryptography.hazmat.primitives.asymmetric import ec

from provenance.access.http_signatures import sign_request
from provenance.audit.errors import Inconsistent
from provenance.client import ClientError
from provenance.errors import Error
from provenance.log.note import parse_note
from provenance.log.tiles import TILE_WIDTH, TileRef, available_width, parse_entry_bundle, tile_path

TIMEOUT = 30
#: Waits on 429 answers before giving up on one request.
MAX_RETRIES = 5
REFUSED = (401, 403)


class HttpSource:
    """The log at `url`, read anonymously or with requests signed by `key` (RFC 9421)."""

    def __init__(
        self, url: str, key: ec.EllipticCurvePrivateKey | None = None, witnesses: int = 0
    ) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.witnesses = witnesses  # cosigners the checkpoint needs
        self.bundles: bool | None = None if key is not None else False  # unknown until tried

    def _get(self, path: str, *, signed: bool = False) -> tuple[int, bytes]:
        """(status, body) of a GET; 429 waits as Retry-After says; unreachable: ClientError."""
        url = self.url + path
        for _ in range(MAX_RETRIES):
            headers: dict[str, str] = {}
            if signed and self.key is not None:
                target = urllib.parse.urlsplit(url)
                headers = sign_request(self.key, method="GET", path=target.path, query=target.query)
            request = urllib.request.Request(url, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                    return int(response.status), response.read()
            except urllib.error.HTTPError as exc:
                body = exc.read()
                if exc.code != 429:
                    return exc.code, body
                time.sleep(min(float(exc.headers.get("Retry-After") or 1), 60.0))
            except (urllib.error.URLError, OSError) as exc:
                raise ClientError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from exc
        raise ClientError(f"{url}: still rate limited after {MAX_RETRIES} tries")

    def _expect(self, path: str, status: int, body: bytes) -> bytes:
        if status == 200:
            return body
        detail = _problem(body)
        if status == 404:
            # The log signed a size that needs this resource: not serving it is the log's fault.
            raise Inconsistent(f"the log does not serve {path} ({detail})")
        raise ClientError(f"GET {self.url}{path}: HTTP {status} {detail}")

    def checkpoint(self) -> str:
        """The latest checkpoint; if witnesses must have cosigned and fewer have cosigned it yet,
        the largest that enough of them cosigned (the caller verifies whichever it gets)."""
        status, body = self._get("/log/checkpoint")
        if status != 200:
            raise ClientError(f"GET {self.url}/log/checkpoint: HTTP {status} {_problem(body)}")
        note = body.decode("utf-8", errors="replace")
        if self.witnesses and _cosigners(note) < self.witnesses:
            status, body = self._get(f"/log/checkpoint/cosigned?witnesses={self.witnesses}")
            if status == 200:
                return body.decode("utf-8", errors="replace")
        return note

    def tile(self, ref: TileRef) -> bytes:
        path = f"/log/tile/{tile_path(ref)}"
        return self._expect(path, *self._get(path))

    def entries(self, start: int, end: int, size: int) -> Iterator[tuple[int, bytes | None]]:
        index = start
        while index < end:
            bundle = self._bundle(index // TILE_WIDTH, size) if self.bundles is not False else None
            if bundle is None:
                yield index, self._entry(index)
                index += 1
                continue
            base = index // TILE_WIDTH * TILE_WIDTH
            for position in range(index - base, len(bundle)):
                if base + position >= end:
                    break
                yield base + position, bundle[position]
            index = base + len(bundle)

    def _bundle(self, tile_index: int, size: int) -> list[bytes] | None:
        width = available_width(None, tile_index, size)
        ref = TileRef(None, tile_index, None if width == TILE_WIDTH else width)
        path = f"/log/tile/{tile_path(ref)}"
        status, body = self._get(path, signed=True)
        if status in REFUSED:
            self.bundles = False  # not a regulator: read the entries it may read one by one
            return None
        self.bundles = True
        try:
            return parse_entry_bundle(self._expect(path, status, body), width)
        except Inconsistent:
            raise
        except Error as exc:
            raise Inconsistent(f"entry bundle {path}: {exc.detail}") from exc

    def _entry(self, index: int) -> bytes | None:
        path = f"/api/v1/log/entries/{index}"
        status, body = self._get(path, signed=True)
        if status in REFUSED:
            return None
        try:
            return base64.b64decode(json.loads(self._expect(path, status, body))["entry_b64"])
        except (ValueError, KeyError, TypeError) as exc:
            raise Inconsistent(f"{path} is not an entry's JSON ({exc})") from exc

    def payload(self, digest: bytes) -> bytes | None:
        path = f"/log/payload/{digest.hex()}"
        status, body = self._get(path, signed=True)
        return None if status in REFUSED else self._expect(path, status, body)


def _cosigners(note: str) -> int:
    """How many names besides the log's signed a note (none of them verified here)."""
    try:
        return len({signature.name for signature in parse_note(note).signatures}) - 1
    except Error:
        return 0


def _problem(body: bytes) -> str:
    try:
        problem = json.loads(body)
        return f"{problem.get('title')}: {problem.get('detail')}"
    except (ValueError, AttributeError):
        return body.decode(errors="replace")[:200]
