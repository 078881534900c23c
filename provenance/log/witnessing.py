"""Sending each new checkpoint to the log's witnesses (C2SP tlog-witness) in the background and
keeping the cosignatures they answer with."""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from provenance.errors import BadParameter, Error
from provenance.log import cosignatures, reader
from provenance.log.cosign import cosignatures as verified_cosignatures
from provenance.log.cosign import parse_witness_vkey
from provenance.log.errors import VerificationError
from provenance.log.note import Verifier, parse_checkpoint, parse_note
from provenance.log.store.engine import read_connection
from provenance.log.store.logdb import StoredCheckpoint
from provenance.log.witness_protocol import (
    format_add_checkpoint,
    parse_signature_lines,
    parse_size,
)

logger = logging.getLogger(__name__)

#: (url, body, timeout in seconds) → (HTTP status, body); raises OSError if there is no answer.
Transport = Callable[[str, bytes, float], tuple[int, bytes]]
MAX_ANSWER_BYTES = 64 * 1024
#: 409 answers followed for one checkpoint before the push counts as failed.
MAX_RESYNCS = 3


def http_post(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    """POST over HTTP(S) with urllib; an HTTP error status is an answer, not an exception."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(MAX_ANSWER_BYTES)
    except urllib.error.URLError as exc:
        raise OSError(f"cannot reach {url}: {exc.reason}") from exc


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log asks for cosignatures: its cosignature/v1 key and submission prefix."""

    verifier: Verifier
    url: str

    @property
    def add_checkpoint_url(self) -> str:
        return f"{self.url.rstrip('/')}/add-checkpoint"


def parse_witness_entries(entries: Sequence[str]) -> list[WitnessEndpoint]:
    """WITNESSES entries `<witness vkey>=<submission prefix URL>`; BadParameter if malformed."""
    endpoints = []
    for entry in entries:
        # A vkey's name and key ID hold no "=" and an Ed25519 key is 44 base64 characters
        # without padding, so the first "=" after the second "+" ends the vkey.
        name, _, rest = entry.partition("+")
        key_part, equals, url = rest.partition("=")
        if not equals or not url.startswith(("http://", "https://")):
            raise BadParameter(f"WITNESSES entry {entry!r} is not <witness vkey>=<http(s) URL>")
        try:
            verifier = parse_witness_vkey(f"{name}+{key_part}")
        except VerificationError as exc:
            raise BadParameter(f"WITNESSES entry {entry!r}: {exc.detail}") from None
        endpoints.append(WitnessEndpoint(verifier, url.strip()))
    names = [e.verifier.name for e in endpoints]
    if len(set(names)) != len(names):
        raise BadParameter("WITNESSES names one witness twice")
    return endpoints


class Transient(Exception):
    """The witness did not answer, or not yet usefully: try again later."""


class Refused(Exception):
    """The witness refused this checkpoint for good: wait for the next one."""


@dataclass
class _WitnessState:
    endpoint: WitnessEndpoint
    known_size: int  # the witness's latest cosigned size, as far as this process knows
    handled: int = -1  # the largest checkpoint size dealt with (cosigned or refused)
    last_error: str | None = None


class WitnessPusher:
    """One background thread a witness: it sends the newest checkpoint (older ones not yet
    sent are skipped), follows 409 answers with a consistency proof from the witness's size,
    retries with backoff when the witness is unreachable, and stores the cosignatures."""

    def __init__(
        self,
        engine: Engine,
        witnesses: Sequence[WitnessEndpoint],
        data_dir: Path,
        *,
        transport: Transport = http_post,
        timeout: float = 10.0,
        backoff: tuple[float, float] = (1.0, 300.0),
    ) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self.transport = transport
        self.timeout = timeout
        self.backoff = backoff
        self.witnesses = [_WitnessState(w, known_size=0) for w in witnesses]
        self._cond = threading.Condition()
        self._latest: tuple[int, str] | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._file_lock = threading.Lock()
        self._file_note: str | None = None

    # --- what the log and the process call ------------------------------------------------

    def notify(self, note: str) -> None:
        """A checkpoint was published (`TransparencyLog.after_publish`): never blocks."""
        size = parse_checkpoint(parse_note(note).text).size
        with self._cond:
            if self._latest is None or size > self._latest[0]:
                self._latest = (size, note)
                self._cond.notify_all()
            if not self._threads and not self._stopping:
                self._start()

    def push_latest(self) -> None:
        """Send the log's latest checkpoint (at start: one published before a restart)."""
        try:
            with read_connection(self.engine) as conn:
                latest = reader.latest_checkpoint(conn)
        except Exception as exc:  # an uninitialised or unreachable database: nothing to send
            logger.warning("no checkpoint sent to the witnesses at start: %s", exc)
            return
        if latest is not None:
            self.notify(latest.note)

    def wait_idle(self, timeout: float) -> bool:
        """Whether every witness has dealt with the newest checkpoint within `timeout` s."""
        with self._cond:
            return self._cond.wait_for(self._idle, timeout)

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 1)

    def _idle(self) -> bool:
        return self._latest is None or all(w.handled >= self._latest[0] for w in self.witnesses)

    def _start(self) -> None:
        with read_connection(self.engine) as conn:
            for state in self.witnesses:
                verifier = state.endpoint.verifier
                state.known_size = cosignatures.witnessed_size(
                    conn, verifier.name, verifier.key_hash
                )
        for state in self.witnesses:
            thread = threading.Thread(
                target=self._run, args=(state,), daemon=True, name=f"witness {state.endpoint.url}"
            )
            self._threads.append(thread)
            thread.start()

    # --- one witness ----------------------------------------------------------------------

    def _run(self, state: _WitnessState) -> None:
        delay = self.backoff[0]
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: (
                        self._stopping
                        or (self._latest is not None and self._latest[0] > state.handled)
                    )
                )
                if self._stopping or self._latest is None:
                    return
                size, note = self._latest
            try:
                self._push(state, size, note)
                state.last_error = None
                delay = self.backoff[0]
            except Refused as exc:
                state.last_error = str(exc)
                logger.error("witness %s: %s", state.endpoint.verifier.name, exc)
            except Exception as exc:  # a push never stops the thread
                state.last_error = str(exc)
                logger.warning(
                    "witness %s: %s; retrying in %.0f s", state.endpoint.verifier.name, exc, delay
                )
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping, timeout=delay)
                delay = min(delay * 2, self.backoff[1])
                continue
            with self._cond:
                state.handled = max(state.handled, size)
                self._cond.notify_all()

    def _push(self, state: _WitnessState, size: int, note: str) -> None:
        checkpoint = parse_checkpoint(parse_note(note).text)
        stored = StoredCheckpoint(size, checkpoint.root_hash, note)
        name = state.endpoint.verifier.name
        old = state.known_size if state.known_size <= size else 0
        for _ in range(MAX_RESYNCS):
            body = format_add_checkpoint(old, self._proof(old, size), note)
            status, answer = self.transport(state.endpoint.add_checkpoint_url, body, self.timeout)
            if status == 200:
                self._keep(state, stored, answer)
                return
            if status != 409:
                text = answer.decode("utf-8", errors="replace").strip()[:300]
                if status in (400, 403, 404, 422):
                    raise Refused(f"refused the checkpoint of size {size} ({status}): {text}")
                raise Transient(f"answered {status}: {text}")
            latest = parse_size(answer)
            state.known_size = latest
            if latest > size:
                tree = self._tree_size()
                if latest > tree:
                    raise Refused(
                        f"has cosigned size {latest} of this log, which has only {tree} "
                        "entries: the log looks rolled back (restored from an old backup?) "
                        "or forked"
                    )
                return  # it already holds a newer checkpoint of this log
            old = latest
            logger.info("witness %s: resending size %d from its size %d", name, size, old)
        raise Transient(f"kept answering 409 for the checkpoint of size {size}")

    def _proof(self, old: int, size: int) -> list[bytes]:
        if old == 0 or old == size:
            return []
        with read_connection(self.engine) as conn:
            return reader.consistency_proof(conn, old, size)

    def _tree_size(self) -> int:
        with read_connection(self.engine) as conn:
            latest = reader.latest_checkpoint(conn)
        return latest.size if latest is not None else 0

    def _keep(self, state: _WitnessState, checkpoint: StoredCheckpoint, answer: bytes) -> None:
        verifier = state.endpoint.verifier
        try:
            lines = parse_signature_lines(answer)
            # The client MUST ignore cosignatures from unknown keys; the rest must verify.
            found = verified_cosignatures(checkpoint.note + "".join(lines), [verifier])
        except Error as exc:
            raise Refused(f"answered with bad cosignatures: {exc.detail}") from None
        if not found:
            raise Refused(f"answered without a cosignature by {verifier.line()}")
        cosignatures.store(self.engine, checkpoint, found)
        state.known_size = checkpoint.size
        self._write_file()

    def _write_file(self) -> None:
        with self._file_lock, read_connection(self.engine) as conn:
            latest = cosignatures.latest_cosigned(conn)
            if latest is None or latest.note == self._file_note:
                return
            if latest.size < cosignatures.read_cosigned_size(self.data_dir):
                return  # another process of this deployment wrote a newer one
            cosignatures.write_cosigned_file(self.data_dir, latest.note)
            self._file_note = latest.note
