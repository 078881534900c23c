"""The scan page's in-browser signing (static/pharmacist.js, WebCrypto in headless Chromium)
makes exactly the envelopes the Python client makes: RFC 8785 payloads, DSSE PAE, DER low-S
signatures by the key of a PKCS#8 or SEC1 PEM file, which the server's verification accepts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from provenance.log.canonical import canonical_bytes
from provenance.log.signing import (
    generate_private_key,
    key_id,
    parse_envelope,
    private_key_pem,
    public_key_der,
    verify_envelope,
    verify_p256,
)
from provenance.log.statements import parse_statement
from tests.server import live_server

#: Members whose canonical form differs from a naive JSON.stringify if anything is wrong: key
#: order by UTF-16 code units (a surrogate pair sorts below U+FFFF), escapes, non-ASCII text.
BODY: dict[str, Any] = {
    "gtin": "09506000134352",
    "note": 'Zoë \u2028 "q" \\ \u0001 \U0001f600 </script>',
    "serials": ["b", "a"],
    "\uffff": 1,
    "\U0001f600": True,
    "Z": None,
    "count": 12,
}
ISSUED_AT = "2026-01-02T03:04:05.678Z"


@pytest.fixture
def signing_page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    """A page of the service with signing.js loaded (it works on any page)."""
    with live_server(tmp_path / "data") as (url, _app):
        browser.get(f"{url}/scan")
        browser.set_script_timeout(30)
        browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "const script = document.createElement('script');"
            "script.src = '/static/supply/signing.js'; script.onload = done;"
            "document.head.appendChild(script);"
        )
        yield browser


def sign_in_browser(
    browser: Any, pem: str, kind: str, body: dict[str, Any], log: str, passphrase: str = ""
) -> Any:
    return browser.execute_async_script(
        "const [pem, kind, body, log, at, passphrase, done] = arguments;"
        "const S = window.ProvenanceSigning;"
        "S.importPem(pem, passphrase).then((k) => S.signEnvelope(k, kind, body, log, at))"
        ".then(done, (err) => done({error: err.message}));",
        pem,
        kind,
        body,
        log,
        ISSUED_AT,
        passphrase,
    )


def sec1_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize("form", ["pkcs8", "sec1", "sec1-with-parameters", "encrypted"])
def test_browser_envelopes_verify_as_the_python_clients_do(signing_page: Any, form: str) -> None:
    key = generate_private_key()
    passphrase = "correct horse battery ä" if form == "encrypted" else ""
    pem = {
        "pkcs8": private_key_pem(key).decode(),
        # As `provenance keygen --passphrase` writes it (PBES2, PBKDF2-SHA256, AES-256-CBC).
        "encrypted": private_key_pem(key, passphrase.encode()).decode(),
        "sec1": sec1_pem(key),
        # As `openssl ecparam -genkey` writes it: the curve's block before the key's.
        "sec1-with-parameters": "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n"
        "-----END EC PARAMETERS-----\n" + sec1_pem(key),
    }[form]
    spki = public_key_der(key)
    envelope = sign_in_browser(
        signing_page, pem, "scan.record", BODY, "example.org/log", passphrase
    )
    assert "error" not in envelope, envelope
    parsed = parse_envelope(envelope)  # exactly payload, payloadType, one {keyid, sig}
    assert parsed.signatures[0].keyid == key_id(spki)
    verify_envelope(parsed, spki)  # strict DER, low S, over the DSSE PAE
    statement = parse_statement(parsed.payload)  # refuses a payload that is not RFC 8785
    expected = {
        "kind": "scan.record",
        "body": BODY,
        "issued_at": ISSUED_AT,
        "signer": key_id(spki),
        "log": "example.org/log",
    }
    assert parsed.payload == canonical_bytes(expected)
    assert statement.to_json() == expected


def test_browser_signatures_are_always_low_s(signing_page: Any) -> None:
    # Half of raw ECDSA signatures have a high S: twenty all low means they are normalised.
    key = generate_private_key()
    spki = public_key_der(key)
    envelopes = signing_page.execute_async_script(
        "const [pem, done] = arguments; const S = window.ProvenanceSigning;"
        "S.importPem(pem).then(async (k) => { const out = [];"
        "  for (let i = 0; i < 20; i++) {"
        "    out.push(await S.signEnvelope(k, 'scan.record', {n: i}, 'o'));"
        "  }"
        "  return out; }).then(done, (err) => done({error: err.message}));",
        private_key_pem(key).decode(),
    )
    assert len(envelopes) == 20
    for envelope in envelopes:
        parsed = parse_envelope(envelope)
        verify_p256(spki, parsed.pae(), parsed.signatures[0].sig, low_s=True)


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        ("not a key at all", "not a PEM private key file"),
        (
            private_key_pem(generate_private_key(), b"secret").decode(),
            "protected by a passphrase",
        ),
        (
            ec.generate_private_key(ec.SECP384R1())
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            .decode(),
            "must be an ECDSA P-256 key",
        ),
    ],
)
def test_unusable_key_files_are_explained(signing_page: Any, pem: str, message: str) -> None:
    answer = sign_in_browser(signing_page, pem, "scan.record", {}, "o")
    assert set(answer) == {"error"} and message in answer["error"]


def test_a_wrong_passphrase_is_explained(signing_page: Any) -> None:
    pem = private_key_pem(generate_private_key(), b"the right one, long enough").decode()
    for wrong in ("the wrong one", "the right one, long enougH"):
        answer = sign_in_browser(signing_page, pem, "scan.record", {}, "o", wrong)
        assert answer == {"error": "the passphrase does not open this key file"}


def test_a_legacy_encrypted_key_file_is_explained(signing_page: Any) -> None:
    pem = (
        generate_private_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.BestAvailableEncryption(b"a passphrase"),
        )
        .decode()
    )
    assert "Proc-Type: 4,ENCRYPTED" in pem
    answer = sign_in_browser(signing_page, pem, "scan.record", {}, "o", "a passphrase")
    assert "openssl pkcs8 -topk8" in answer["error"]
