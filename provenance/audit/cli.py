"""`provenance monitor`, `provenance fetch-bundle` and `provenance verify-bundle`.

Exit status of `monitor`: 0 when the log is consistent with what it accepted before and every
new entry it read checks; 1 on a split view, a rollback, bad tiles or a bad entry (the message
names the size or index and what); 2 on usage and network errors.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import click

from provenance import client
from provenance.audit.bundle import SUBJECT, VerifiedBundle, verify_bundle
from provenance.audit.errors import BadBundle, BadEntry, Inconsistent
from provenance.audit.http_source import HttpSource
from provenance.audit.monitor import Outcome, check_log
from provenance.audit.state import load_state, save_state
from provenance.errors import BadParameter, Error
from provenance.key_option import KEY, key_help
from provenance.log.note import Checkpoint, Verifier, open_checkpoint, parse_verifier_key
from provenance.log.personality import Registry
from provenance.log.settings import Settings
from provenance.plugins import load_plugins

#: Entries a run reads before it shows a progress bar.
PROGRESS_FROM = 256


class Failed(click.ClickException):
    """The log or the bundle does not verify: exit status 1."""

    exit_code = 1


class Unreachable(click.ClickException):
    """The server could not be asked: exit status 2, like a usage error."""

    exit_code = 2


def _vkey_line(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def _witness_verifiers(values: Sequence[str]) -> list[Verifier]:
    from provenance.log.cosign import parse_witness_vkey  # witnesses only when asked for

    found = []
    for value in values:
        path = Path(value)
        text = path.read_text(encoding="utf-8") if path.is_file() else value
        try:
            found.append(parse_witness_vkey(text.strip()))
        except Error as exc:
            raise click.BadParameter(exc.detail, param_hint="--witness") from exc
    return found


def checkpoint_opener(
    log: Verifier, witnesses: Sequence[str], min_witnesses: int | None
) -> Callable[[str], Checkpoint]:
    """Opens a checkpoint with the log's key and, if witnesses are named, their cosignatures
    (all of them, unless --min-witnesses says how many)."""
    if min_witnesses is not None and not witnesses:
        raise click.UsageError("--min-witnesses needs the witnesses' keys (--witness)")
    if not witnesses:
        return lambda note: open_checkpoint(note, log, log.name)
    verifiers = _witness_verifiers(witnesses)
    needed = len(verifiers) if min_witnesses is None else min_witnesses
    if needed > len(verifiers):
        raise click.UsageError(f"--min-witnesses {needed} is more than the {len(verifiers)} given")
    from provenance.log.cosign import open_cosigned_checkpoint

    return lambda note: open_cosigned_checkpoint(note, log, log.name, verifiers, needed)


def _registry() -> Registry:
    return load_plugins(Settings.from_config({}).plugins).registry


def _log_verifier(vkey: Path) -> tuple[str, Verifier]:
    line = _vkey_line(vkey)
    try:
        return line, parse_verifier_key(line)
    except Error as exc:
        raise click.BadParameter(exc.detail, param_hint="--vkey") from exc


WITNESS_OPTIONS = (
    click.option(
        "--witness",
        "witnesses",
        multiple=True,
        help="a witness's verifier key (cosignature/v1), or a file holding one (repeatable)",
    ),
    click.option(
        "--min-witnesses",
        type=click.IntRange(min=0),
        help="how many of the --witness keys must have cosigned the checkpoint (default: all)",
    ),
)


def _witness_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(WITNESS_OPTIONS):
        command = option(command)
    return command


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    with click.progressbar(
        length=total, label="checking entries", file=sys.stderr, hidden=total < PROGRESS_FROM
    ) as bar:
        yield bar.update


def _said(outcome: Outcome) -> str:
    root = outcome.root_hash.hex()[:16]
    if outcome.old_size is None:
        head = f"first run: checkpoint size {outcome.size} (root {root}…) remembered"
    elif outcome.old_size == outcome.size:
        return f"OK: size {outcome.size} (root {root}…) as accepted before; nothing new"
    else:
        head = (
            f"size {outcome.size} (root {root}…) is consistent with size {outcome.old_size} "
            "accepted before"
        )
    read = f"{outcome.checked} new entries checked"
    if outcome.skipped:
        read += f", {outcome.skipped} not readable by this party skipped"
    if outcome.unverifiable:
        read += f", {outcome.unverifiable} signed by keys registered in entries it cannot read"
    return f"OK: {head}; {read}"


@click.command()
@click.option("--url", required=True, help="the log server, e.g. http://127.0.0.1:8000")
@click.option(
    "--vkey",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a file holding the log's verifier key (GET /log/key)",
)
@click.option(
    "--state",
    "state_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="the directory where the monitor keeps the last checkpoint it accepted",
)
@click.option(
    "--key",
    type=KEY,
    help=key_help("a registered key to read entries with (a regulator's reads them all)"),
)
@_witness_options
@click.option("--watch", is_flag=True, help="keep checking until the log is inconsistent")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="seconds between checks with --watch",
)
def monitor(
    url: str,
    vkey: Path,
    state_dir: Path,
    key: Path | str | None,
    witnesses: tuple[str, ...],
    min_witnesses: int | None,
    watch: bool,
    interval: float,
) -> None:
    """Check that the log only grows: its checkpoint against the last one accepted, by a
    consistency proof built from its hash tiles, and every new entry this party may read."""
    line, verifier = _log_verifier(vkey)
    opener = checkpoint_opener(verifier, witnesses, min_witnesses)
    needed = len(witnesses) if min_witnesses is None else min_witnesses
    private = client.load_private_key(key) if key is not None else None
    source = HttpSource(url, private, needed)
    registry = _registry()
    while True:
        try:
            state = load_state(state_dir, verifier.name)
        except BadParameter as exc:
            raise click.UsageError(exc.detail) from exc
        try:
            outcome, accepted = check_log(source, state, opener, registry, line, _progress)
        except (Inconsistent, BadEntry) as exc:
            raise Failed(f"INCONSISTENT: {exc.detail}") from exc
        except client.ClientError as exc:
            if not watch:
                raise Unreachable(exc.detail) from exc
            click.echo(f"{time.strftime('%H:%M:%S')} {exc.detail}; trying again", err=True)
        else:
            if accepted is not state:
                save_state(state_dir, verifier.name, accepted)
            if not watch or outcome.old_size != outcome.size:
                click.echo(_said(outcome))
        if not watch:
            return
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            return


@click.command("fetch-bundle")
@click.argument("subject")
@click.option("--url", required=True, help="the log server, e.g. http://127.0.0.1:8000")
@click.option("--key", type=KEY, help=key_help("your registered key (anonymous without)"))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def fetch_bundle(subject: str, url: str, key: Path | str | None, out: Path) -> None:
    """Download the proof bundle of SUBJECT, e.g. batch/<gtin>/<lot>, pack/<gtin>/<lot>/<serial>,
    trial/<trial id> or submission/<entry index>."""
    private = client.load_private_key(key) if key is not None else None
    target = f"{url.rstrip('/')}/api/v1/bundles/{subject.strip('/')}"
    try:
        _, body = client.http_request(target, key=private)
    except client.ClientError as exc:
        raise Unreachable(exc.detail) from exc
    out.write_bytes(body)
    click.echo(f"wrote {out}", err=True)


@click.command("verify-bundle")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--vkey",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a file holding the log's verifier key (GET /log/key)",
)
@_witness_options
def verify_bundle_command(
    bundle: Path, vkey: Path, witnesses: tuple[str, ...], min_witnesses: int | None
) -> None:
    """Check a proof bundle offline: the checkpoint's signatures, every inclusion proof, and
    every entry's signature by a key the bundle's own registration entries name."""
    line, verifier = _log_verifier(vkey)
    opener = checkpoint_opener(verifier, witnesses, min_witnesses)
    try:
        verified = verify_bundle(bundle.read_bytes(), opener, _registry(), line)
    except BadBundle as exc:
        raise Failed(f"BUNDLE DOES NOT VERIFY: {exc.detail}") from exc
    for text in _summary(verified, len(witnesses)):
        click.echo(text)


def _summary(verified: VerifiedBundle, witnesses: int) -> Iterator[str]:
    checkpoint = verified.checkpoint
    subject = [e for e in verified.entries if e.role == SUBJECT]
    cosigned = f", cosigned as required by {witnesses} witness key(s) given" if witnesses else ""
    yield (
        f"OK: {len(subject)} entries and {len(verified.entries) - len(subject)} identity entries "
        f"are in log {checkpoint.origin} at checkpoint size {checkpoint.size} "
        f"(root {checkpoint.root_hash.hex()[:16]}…){cosigned}; each signed by a key the "
        "bundle registers"
    )
    for e in subject:
        who = f"{e.person} for " if e.person else ""
        yield (
            f"  entry {e.index}  {e.kind}  logged {e.logged_at}  by {who}{e.party_name} "
            f"({e.party}), key {e.key_id[:16]}…"
        )


COMMANDS = (monitor, fetch_bundle, verify_bundle_command)
