"""The `provenance` command: keys, signing, submitting and offline receipt checks for parties."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from provenance import client
from provenance.audit.cli import COMMANDS as AUDIT_COMMANDS
from provenance.errors import Error
from provenance.key_option import KEY, key_help
from provenance.log.canonical import parse_json
from provenance.log.settings import Settings
from provenance.log.signing import generate_private_key, key_id, load_public_key_pem, public_key_der
from provenance.plugins import load_plugins
from provenance.reports.cli import report_command
from provenance.witness.cli import witness_group


def _read_json(path: Path) -> Any:
    return parse_json(path.read_bytes())


def _emit(value: Any, out: Path | None) -> None:
    text = json.dumps(value, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)
        click.echo(f"wrote {out}", err=True)


#: Every option can also come from the environment: PROVENANCE_<COMMAND>_<OPTION> (click's
#: auto_envvar_prefix), and those that name the same thing in every command from one variable.
ENV_PREFIX = "PROVENANCE"
SHARED_ENV = {"url": "PROVENANCE_URL", "key": "PROVENANCE_KEY"}
#: Options whose mere presence changes what a command does are not read from SHARED_ENV: with
#: PROVENANCE_URL set, `register-party --out FILE` must still write the file, not submit.
_MODE_SWITCHES = {("register-party", "url")}


def from_environment(command: click.Command) -> click.Command:
    """Name each option's environment variable in its help, and give the shared ones theirs."""
    for param in command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        shared = SHARED_ENV.get(param.name)
        if param.envvar is None and shared and (command.name, param.name) not in _MODE_SWITCHES:
            param.envvar = shared
        param.show_envvar = True
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            from_environment(sub)
    return command


class _Commands(click.Group):
    """The core's commands, the plug-ins' commands (imported only when asked for), and errors
    as one line on stderr with exit status 1, never a traceback."""

    _found: dict[str, click.Command] | None = None

    def _plugin_commands(self) -> dict[str, click.Command]:
        if self._found is None:
            installed = load_plugins(Settings.from_config({}).plugins)
            self._found = {
                command.name: from_environment(command)
                for plugin in installed.plugins
                for command in plugin.commands()
                if command.name is not None
            }
        return self._found

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._plugin_commands().get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Error as exc:
            raise click.ClickException(exc.detail) from exc
        except OSError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Commands, context_settings={"auto_envvar_prefix": ENV_PREFIX})
@click.version_option(package_name="provenance")
def main() -> None:
    """Sign statements on your side and check what the log says about them."""


@main.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--public-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write the public key as PEM",
)
@click.option(
    "--passphrase",
    "protect",
    is_flag=True,
    help="encrypt the key with a passphrase ($PROVENANCE_KEY_PASSPHRASE, else asked twice)",
)
def keygen(out: Path, public_out: Path | None, protect: bool) -> None:
    """Create a P-256 private key (PEM, mode 0600); print its key id and public key."""
    if out.exists():
        raise click.ClickException(f"{out} exists; refusing to overwrite a key")
    passphrase = None
    if protect:
        typed = os.environ.get(client.PASSPHRASE_VARIABLE) or click.prompt(
            "passphrase", hide_input=True, confirmation_prompt=True
        )
        if len(typed) < 12:
            raise click.ClickException("a key's passphrase needs at least 12 characters")
        passphrase = typed.encode()
    key = generate_private_key()
    client.save_private_key(out, key, passphrase)
    der = public_key_der(key)
    if public_out is not None:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        public_out.write_bytes(
            key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
    click.echo(f"key id:     {key_id(der)}")
    click.echo(f"public key: {base64.b64encode(der).decode()}")


@main.command("register-party")
@click.option(
    "--authority-key",
    required=True,
    type=KEY,
    help=key_help("the registry authority's key"),
)
@click.option("--name", required=True)
@click.option("--gln", required=True, help="the party's 13-digit GLN")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="a party role of an installed plug-in (repeatable)",
)
@click.option(
    "--public-key",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="the party's public key (PEM)",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--url", help="submit to this server instead of printing")
@click.option("--log", "log", help="the origin of the log it is for (read from --url if given)")
def register_party(
    authority_key: Path | str,
    name: str,
    gln: str,
    roles: tuple[str, ...],
    public_key: Path,
    out: Path | None,
    url: str | None,
    log: str | None,
) -> None:
    """Sign a party registration with the registry authority's key."""
    envelope = client.party_registration(
        client.load_private_key(authority_key),
        name,
        gln,
        list(roles),
        load_public_key_pem(public_key.read_bytes()),
        log=_audience(log, url),
    )
    if url:
        report_result(client.submit(url, envelope))
    else:
        _emit(envelope, out)


@main.command("register-person")
@click.option(
    "--party-key",
    required=True,
    type=KEY,
    help=key_help("the party's own (system) key, or the registry authority's"),
)
@click.option("--gln", required=True, help="the party's GLN")
@click.option("--person", "person_id", required=True, help="the party's id for the person")
@click.option("--name", required=True, help="the printed name of the person's signatures")
@click.option("--role", required=True, help='what the person does, e.g. "pharmacist"')
@click.option(
    "--public-key",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="the person's public key (PEM), made on the person's own machine",
)
@click.option("--url", required=True, help="the log server, e.g. http://127.0.0.1:8000")
def register_person(
    party_key: Path | str,
    gln: str,
    person_id: str,
    name: str,
    role: str,
    public_key: Path,
    url: str,
) -> None:
    """Register a person who acts for the party, with the person's own key."""
    body = {
        "gln": gln,
        "person": person_id,
        "name": name,
        "role": role,
        "public_key": base64.b64encode(load_public_key_pem(public_key.read_bytes())).decode(),
    }
    report_result(
        client.sign_and_submit(url, client.load_private_key(party_key), "person.register", body)
    )


@main.command()
@click.argument("statement", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", required=True, type=KEY, help=key_help("your registered key"))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--log", "log", help='the origin of the log it is for (or the file\'s "log")')
@click.option("--url", help="read the origin from this log server")
def sign(
    statement: Path, key: Path | str, out: Path | None, log: str | None, url: str | None
) -> None:
    """Sign a statement file {"kind": …, "body": {…}} into a DSSE envelope for one log."""
    data = _read_json(statement)
    if not isinstance(data, dict) or not {"kind", "body"} <= data.keys():
        raise click.ClickException("a statement file is a JSON object with kind and body")
    origin = _audience(log or data.get("log"), url)
    envelope = client.build_envelope(
        client.load_private_key(key), data["kind"], data["body"], data.get("issued_at"), log=origin
    )
    _emit(envelope, out)


def _audience(log: str | None, url: str | None) -> str:
    """The log a statement is signed for: as given, or as the server at `url` says."""
    if log:
        return log
    if url:
        return client.log_origin(url)
    raise click.UsageError("give --log ORIGIN (see GET /api/v1/log) or --url SERVER")


def report_result(result: dict[str, Any]) -> None:
    note = " (already logged)" if result.get("duplicate") else ""
    click.echo(f"index {result['index']}{note}  leaf {result['leaf_hash']}")


@main.command()
@click.argument(
    "envelopes",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--url", required=True, help="the log server, e.g. http://127.0.0.1:8000")
@click.option(
    "--receipt-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="save each entry's receipt here as entry-<index>.tlog-proof",
)
@click.option(
    "--key",
    type=KEY,
    help=key_help("your registered key, to sign the requests for receipts (they carry the entry)"),
)
def submit(
    envelopes: tuple[Path, ...], url: str, receipt_dir: Path | None, key: Path | str | None
) -> None:
    """Submit signed envelopes to a log server."""
    if receipt_dir is not None and key is None:
        raise click.UsageError("--receipt-dir needs --key: a receipt is read by its parties")
    private = client.load_private_key(key) if key is not None else None
    results = []
    with click.progressbar(
        envelopes, label="submitting", file=sys.stderr, hidden=len(envelopes) < 2
    ) as bar:
        for path in bar:
            result = client.submit(url, _read_json(path))
            results.append(result)
            if receipt_dir is not None:
                receipt_dir.mkdir(parents=True, exist_ok=True)
                target = receipt_dir / f"entry-{result['index']}.tlog-proof"
                receipt = client.fetch_receipt(url, int(result["index"]), private)
                target.write_text(receipt)
    for result in results:
        report_result(result)


@main.command()
@click.option("--key", required=True, type=KEY, help=key_help("your registered key"))
@click.option("--url", required=True, help="the log server, e.g. http://127.0.0.1:8000")
def login(key: Path | str, url: str) -> None:
    """Print a one-time link (two minutes) that logs a browser in as your party."""
    answer = client.login_link(url, client.load_private_key(key))
    click.echo(f"open within two minutes, as {answer['as']}:")
    click.echo(answer["url"])


@main.command("verify-receipt")
@click.argument("proof", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--vkey", help="the log's verifier key line (from GET /log/key)")
@click.option("--vkey-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--envelope",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="also check that the entry carries exactly this envelope",
)
@click.option(
    "--witness",
    "witness_keys",
    multiple=True,
    help="a witness's cosignature/v1 verifier key (repeatable)",
)
@click.option(
    "--witnesses-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="witness verifier keys, one a line (# starts a comment)",
)
@click.option(
    "--min-witnesses",
    type=click.IntRange(min=1),
    help="how many of the witnesses must have cosigned the checkpoint (default: all)",
)
def verify_receipt(
    proof: Path,
    vkey: str | None,
    vkey_file: Path | None,
    envelope: Path | None,
    witness_keys: tuple[str, ...],
    witnesses_file: Path | None,
    min_witnesses: int | None,
) -> None:
    """Check a receipt offline: checkpoint signature, inclusion proof, entry contents, and
    with --witness, the witnesses' cosignatures of its checkpoint."""
    if (vkey is None) == (vkey_file is None):
        raise click.UsageError("give exactly one of --vkey and --vkey-file")
    key_line = vkey if vkey is not None else vkey_file.read_text()  # type: ignore[union-attr]
    expected = _read_json(envelope) if envelope else None
    witnesses = [*witness_keys, *(_key_lines(witnesses_file) if witnesses_file else [])]
    if min_witnesses is not None and min_witnesses > len(witnesses):
        raise click.UsageError(
            f"--min-witnesses {min_witnesses} needs at least that many --witness keys"
        )
    required = len(witnesses) if min_witnesses is None else min_witnesses
    receipt = client.verify_receipt(
        proof.read_text(), key_line, expected, witnesses=witnesses, min_witnesses=required
    )
    statement = receipt.statement
    click.echo(
        f"OK: entry {receipt.index} is in the log (checkpoint size {receipt.tree_size}, "
        f"root {receipt.root_hash.hex()})"
    )
    click.echo(
        f"    {statement.get('kind')} signed by {statement.get('signer')} "
        f"at {statement.get('issued_at')}, logged at {receipt.entry.get('logged_at')}"
    )
    if witnesses:
        click.echo(
            f"    cosigned by {len(receipt.cosigners)} of {len(witnesses)} witnesses "
            f"(required {required}): {', '.join(receipt.cosigners)}"
        )


def _key_lines(path: Path) -> list[str]:
    """Verifier keys from a file: one a line; blank lines and # comments are skipped."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


main.add_command(report_command)
main.add_command(witness_group)
for _audit in AUDIT_COMMANDS:
    main.add_command(_audit)
for _command in main.commands.values():
    from_environment(_command)
