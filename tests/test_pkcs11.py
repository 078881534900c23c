"""Signing with a P-256 key that stays in a PKCS#11 token: SoftHSM2, present in CI or skipped."""

from __future__ import annotations

import gc
import glob
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11.constants import Attribute
from pkcs11.mechanisms import KeyType
from pkcs11.util.ec import encode_named_curve_parameters

from provenance.cli import main
from provenance.client import build_envelope, load_private_key, save_private_key
from provenance.log.errors import BadKey
from provenance.log.signing import (
    key_id,
    parse_envelope,
    public_key_der,
    verify_envelope,
    verify_p256,
)
from provenance.pkcs11_key import (
    MODULE_VARIABLE,
    PIN_VARIABLE,
    KeyURI,
    TokenError,
    TokenKey,
    TokenLocked,
)
from tests.chromium import require
from tests.parties import ORIGIN
from tests.server import live_server

PIN, SO_PIN = "1234", "5678"
KEY = "pkcs11:token=test;object=signer"
SIGNER_ID = b"\xa1\x01"
#: Where Debian's libsofthsm2 puts the module (/usr/lib/softhsm links to the multiarch one).
MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/*/softhsm/libsofthsm2.so",
    "/usr/lib64/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


def softhsm_module() -> str:
    found = [path for pattern in MODULES for path in sorted(glob.glob(pattern))]
    if not found:
        if os.environ.get("CI"):
            pytest.fail("libsofthsm2.so missing: .ci/run installs Debian's softhsm2")
        pytest.skip("libsofthsm2.so not installed")
    return found[0]


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SoftHSM2's module, with a fresh token "test" holding a P-256 key pair ("signer") and a
    P-384 one, both generated inside it, sensitive and not extractable, and a P-256 private key
    whose public key object is gone ("lonely"). SoftHSM reads its configuration when the module
    is first loaded, once per process: the tests share the token."""
    (util,) = require("softhsm2-util")
    so = softhsm_module()
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    config = directory / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {directory / 'tokens'}\nlog.level = ERROR\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(config))
        init = ["--init-token", "--free", "--label", "test", "--pin", PIN, "--so-pin", SO_PIN]
        subprocess.run([util, *init], check=True, capture_output=True)
        token = pkcs11.lib(so).get_token(token_label="test")
        with token.open(rw=True, user_pin=PIN) as session:
            for label, curve, id_ in (
                ("signer", "secp256r1", SIGNER_ID),
                ("p384", "secp384r1", b"\xa2"),
            ):
                _, private = session.generate_keypair(
                    KeyType.EC,
                    store=True,
                    label=label,
                    id=id_,
                    public_template={Attribute.EC_PARAMS: encode_named_curve_parameters(curve)},
                    private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
                )
                with pytest.raises(pkcs11.exceptions.AttributeSensitive):
                    private[Attribute.VALUE]  # the token itself refuses to hand the scalar out
            public, _ = session.generate_keypair(
                KeyType.EC,
                store=True,
                label="lonely",
                public_template={Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            )
            public.destroy()  # a private key whose public key object is gone
        yield so


@pytest.fixture
def token_env(softhsm: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The token's module and PIN where the command line and the client find them."""
    monkeypatch.setenv(MODULE_VARIABLE, softhsm)
    monkeypatch.setenv(PIN_VARIABLE, PIN)
    return softhsm


def open_key(uri: str = KEY) -> TokenKey:
    key = load_private_key(uri)
    assert isinstance(key, TokenKey)
    return key


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_token_key_signs_envelopes_the_server_accepts(token_env: str) -> None:
    with open_key() as key, open_key("pkcs11:token=test;id=%A1%01") as same:
        assert public_key_der(same) == public_key_der(key)  # by label or by id: one key
        spki = public_key_der(key)
        assert key.curve.name == "secp256r1" and key.key_size == 256
        for n in range(8):  # a token signs with random k: each one normalised to low S
            envelope = build_envelope(
                key, "attestation", {"subject": f"lot/{n}", "claim": {}}, log=ORIGIN
            )
            parsed = parse_envelope(envelope)
            assert parsed.signatures[0].keyid == key_id(spki)
            verify_envelope(parsed, spki)  # the server's verifier (python-ecdsa, low S only)
        message = b"any message"
        signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
        key.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))
        verify_p256(spki, message, signature, low_s=False)
        with pytest.raises(TokenError, match="SHA-256 only"):
            key.sign(message, ec.ECDSA(hashes.SHA384()))
    with pytest.raises(TokenError, match="closed"):
        key.sign(message, ec.ECDSA(hashes.SHA256()))


def test_the_private_key_cannot_leave_the_token(token_env: str, tmp_path: Path) -> None:
    with open_key() as key:
        with pytest.raises(TokenError, match="stays in the token"):
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        with pytest.raises(TokenError, match="stays in the token"):
            key.private_numbers()
        with pytest.raises(BadKey):
            save_private_key(tmp_path / "copy.pem", key)
        with pytest.raises(TokenError):
            key.exchange(ec.ECDH(), ec.generate_private_key(ec.SECP256R1()).public_key())
    assert not (tmp_path / "copy.pem").exists()


def test_wrong_pin_and_other_mistakes_are_clear_errors(
    token_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gc.collect()  # no other key of this token open: the wrong PIN reaches C_Login
    monkeypatch.setenv(PIN_VARIABLE, "0000")
    with pytest.raises(TokenLocked, match="PIN for token 'test' is wrong"):
        load_private_key(KEY)
    statement = tmp_path / "statement.json"
    statement.write_text(json.dumps({"kind": "attestation", "body": {"subject": "x", "claim": {}}}))
    cli = run("sign", statement, "--key", KEY, "--log", ORIGIN)
    assert cli.exit_code == 1 and "PIN for token 'test' is wrong" in cli.output, cli.output
    assert "Traceback" not in cli.output
    monkeypatch.setenv(PIN_VARIABLE, PIN)
    with open_key():  # the token is logged in now; a wrong PIN still fails
        monkeypatch.setenv(PIN_VARIABLE, "0000")
        with pytest.raises(TokenLocked, match="wrong"):
            load_private_key(KEY)
    monkeypatch.delenv(PIN_VARIABLE)
    gc.collect()
    elsewhere = f"{KEY}?pin-value={PIN}&module-path=/nowhere/libx.so"
    cases = {  # the key reference → what the error says (stdin is not a terminal here)
        KEY: f"needs its PIN: set {PIN_VARIABLE}",
        elsewhere: "cannot load the PKCS#11 module /nowhere/libx.so",
        "pkcs11:token=nosuch;object=signer?pin-value=1234": "no token 'nosuch'",
        "pkcs11:token=test;object=nosuch?pin-value=1234": "no EC private key 'nosuch'",
        "pkcs11:token=test;object=p384?pin-value=1234": "not on P-256",
        "pkcs11:token=test;object=lonely?pin-value=1234": "no EC public key 'lonely'",
        "pkcs11:token=test;object=signer;slot=1": "'slot' is not one of",
        "pkcs11:token=test": "object=LABEL or id=",
    }
    for reference, message in cases.items():
        result = run("sign", statement, "--key", reference, "--log", ORIGIN)
        assert result.exit_code == 1, (reference, result.output)
        assert message in result.output and "Traceback" not in result.output, result.output
        assert "1234" not in result.output  # a PIN is never repeated back
    monkeypatch.delenv(MODULE_VARIABLE)
    result = run("sign", statement, "--key", KEY, "--log", ORIGIN)
    assert result.exit_code == 1 and MODULE_VARIABLE in result.output


def test_key_options_take_a_file_or_a_token_uri(tmp_path: Path) -> None:
    missing = run("sign", tmp_path / "s.json", "--key", tmp_path / "none.pem", "--log", ORIGIN)
    assert missing.exit_code == 2  # a file key must still exist
    for command in (
        ["sign"],
        ["login"],
        ["submit"],
        ["register-person"],
        ["scan"],
        ["trial", "register"],
    ):
        assert "pkcs11:token=" in run(*command, "--help").output, command
    parsed = KeyURI.parse("pkcs11:token=my%20token;id=%01%FF;type=private?pin-value=secret")
    assert (parsed.token, parsed.id, parsed.label) == ("my token", b"\x01\xff", None)
    assert "secret" not in repr(parsed) and "secret" not in parsed.describe()
    imports = "import sys, provenance.cli, provenance.supply.cli, trials.cli\n"
    imports += "print('pkcs11' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", imports], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "False"  # python-pkcs11 is imported only for a token key


def test_the_command_line_signs_statements_and_requests_with_a_token_key(
    token_env: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    with live_server(data_dir) as (url, _), open_key() as key:
        public = tmp_path / "token.pub.pem"
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        registered = run(
            "register-party", "--authority-key", data_dir / "keys/authority-p256.pem",
            "--name", "Acme", "--gln", "5412345000013", "--role", "manufacturer",
            "--public-key", public, "--url", url,
        )  # fmt: skip
        assert registered.exit_code == 0, registered.output

        statement, envelope = tmp_path / "statement.json", tmp_path / "envelope.json"
        statement.write_text(
            json.dumps({"kind": "attestation", "body": {"subject": "lot/7", "claim": {"ok": True}}})
        )
        signed = run("sign", statement, "--key", KEY, "--out", envelope, "--url", url)
        assert signed.exit_code == 0, signed.output
        parsed = parse_envelope(json.loads(envelope.read_text()))
        verify_envelope(parsed, public_key_der(key))

        receipts = tmp_path / "receipts"
        # The request for a receipt is signed (RFC 9421) by the token key, as the party.
        submitted = run("submit", envelope, "--url", url, "--receipt-dir", receipts, "--key", KEY)
        assert submitted.exit_code == 0, submitted.output
        assert submitted.output.startswith("index 2 ")
        with urllib.request.urlopen(f"{url}/log/key") as response:
            vkey = response.read().decode().strip()
        proof = receipts / "entry-2.tlog-proof"
        checked = run("verify-receipt", proof, "--vkey", vkey, "--envelope", envelope)
        assert checked.exit_code == 0, checked.output

        login = run("login", "--key", KEY, "--url", url)
        assert login.exit_code == 0, login.output
        assert "as Acme" in login.output and f"{url}/" in login.output
