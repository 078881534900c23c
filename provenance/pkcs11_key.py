"""P-256 keys that sign inside a PKCS#11 token (an HSM, a smart card, SoftHSM) and stay there."""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import hmac
import os
import sys
import threading
import urllib.parse
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import pkcs11
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import exceptions as p11
from pkcs11.constants import Attribute, ObjectClass, TokenFlag
from pkcs11.mechanisms import KeyType, Mechanism
from pkcs11.types import PROTECTED_AUTH, Object, Session, SignMixin, Token

from provenance.log.errors import BadKey
from provenance.log.signing import KeyLocked

if TYPE_CHECKING:
    from cryptography.hazmat.primitives import serialization
    from cryptography.utils import Buffer

#: Where the PKCS#11 module (the token's shared library) and the token's PIN are found when the
#: key's URI does not say (its `module-path` and `pin-value` query attributes).
MODULE_VARIABLE = "PROVENANCE_PKCS11_MODULE"
PIN_VARIABLE = "PROVENANCE_PKCS11_PIN"
SCHEME = "pkcs11:"
_PATH_ATTRIBUTES = frozenset({"token", "serial", "object", "id", "type"})
_QUERY_ATTRIBUTES = frozenset({"module-path", "pin-value"})
_P256_PARAMETERS = bytes.fromhex("06082a8648ce3d030107")  # DER OID of secp256r1 (RFC 5480)


class TokenError(BadKey):
    """A key in a PKCS#11 token could not be reached or used."""


class TokenLocked(TokenError, KeyLocked):
    """The token's PIN is missing, wrong or locked."""


@dataclass(frozen=True)
class KeyURI:
    """What an RFC 7512 `pkcs11:` URI names: a token, a private key in it, a module and a PIN."""

    token: str | None = None
    serial: str | None = None
    label: str | None = None
    id: bytes | None = None
    module: str | None = None
    pin: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, uri: str) -> KeyURI:
        if not uri.startswith(SCHEME):
            raise TokenError(f"a token key is named by a {SCHEME} URI (RFC 7512)")
        path, _, query = uri[len(SCHEME) :].partition("?")
        found: dict[str, str] = {}
        for part, separator, allowed in (
            (path, ";", _PATH_ATTRIBUTES),
            (query, "&", _QUERY_ATTRIBUTES),
        ):
            for item in filter(None, part.split(separator)):
                name, equals, value = item.partition("=")
                if not equals or name not in allowed or name in found:
                    known = ", ".join(sorted(allowed))
                    raise TokenError(f"{SCHEME} URI attribute {name!r} is not one of {known}")
                found[name] = value
        if found.get("type", "private") != "private":
            raise TokenError(f"a signing key's {SCHEME} URI names type=private (or no type)")
        if "object" not in found and "id" not in found:
            raise TokenError(f"a {SCHEME} URI names its key with object=LABEL or id=%XX…")
        try:
            text = {
                n: urllib.parse.unquote(v, errors="strict") for n, v in found.items() if n != "id"
            }
        except UnicodeDecodeError as exc:
            raise TokenError(f"a {SCHEME} URI's labels are percent-encoded UTF-8") from exc
        return cls(
            token=text.get("token"),
            serial=text.get("serial"),
            label=text.get("object"),
            id=urllib.parse.unquote_to_bytes(found["id"]) if "id" in found else None,
            module=text.get("module-path") or os.environ.get(MODULE_VARIABLE),
            pin=text.get("pin-value"),
        )

    def key_attributes(self, kind: ObjectClass) -> dict[Attribute, Any]:
        attributes: dict[Attribute, Any] = {Attribute.CLASS: kind, Attribute.KEY_TYPE: KeyType.EC}
        if self.label is not None:
            attributes[Attribute.LABEL] = self.label
        if self.id is not None:
            attributes[Attribute.ID] = self.id
        return attributes

    def token_name(self) -> str:
        return f"token {self.token or self.serial or '(the only one)'!r}"

    def describe(self) -> str:
        """The key as a message names it: never its PIN."""
        name = repr(self.label) if self.label is not None else f"with id {(self.id or b'').hex()}"
        return f"key {name} in {self.token_name()}"


@dataclass
class _Login:
    """One logged-in session per token and process: PKCS#11 logs in a whole application, and
    the last session to close logs it out, so the keys of one token share their session."""

    session: Session
    pin_digest: bytes
    users: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_LOGINS: dict[tuple[str, int], _Login] = {}
_LOGINS_LOCK = threading.Lock()


def _release(slot: tuple[str, int], login: _Login) -> None:
    with _LOGINS_LOCK:
        login.users -= 1
        if login.users > 0:
            return
        if _LOGINS.get(slot) is login:
            del _LOGINS[slot]
    with contextlib.suppress(p11.PKCS11Error):  # a removed token or a finalised module
        login.session.close()


@contextlib.contextmanager
def _translated(uri: KeyURI) -> Iterator[None]:
    """python-pkcs11's exceptions, said as what went wrong with this key."""
    what, token = uri.describe(), uri.token_name()
    try:
        yield
    except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange) as exc:
        raise TokenLocked(f"the PIN for {token} is wrong") from exc
    except (p11.PinLocked, p11.PinExpired) as exc:
        raise TokenLocked(
            f"the PIN of {token} is locked or expired: reset it on the token"
        ) from exc
    except (p11.TokenNotPresent, p11.DeviceRemoved, p11.SessionHandleInvalid) as exc:
        raise TokenError(f"{token} was removed") from exc
    except p11.PKCS11Error as exc:
        raise TokenError(f"the {what} cannot be used: {type(exc).__name__} {exc}".strip()) from exc


def _pin(uri: KeyURI, token: Token) -> str | object | None:
    """The user PIN: from the URI, the environment, the token's own PIN pad, or a prompt."""
    if not token.flags & TokenFlag.LOGIN_REQUIRED:
        return None
    if uri.pin is not None:
        return uri.pin
    if os.environ.get(PIN_VARIABLE):
        return os.environ[PIN_VARIABLE]
    if token.flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH:
        return PROTECTED_AUTH
    if sys.stdin.isatty():
        return getpass.getpass(f"PIN for token {token.label}: ")
    raise TokenLocked(
        f"token {token.label!r} needs its PIN: set {PIN_VARIABLE} or run the command in a "
        "terminal to be asked for it"
    )


def _one(session: Session, attributes: dict[Attribute, Any], what: str) -> Object:
    found = list(session.get_objects(attributes))
    if len(found) != 1:
        raise TokenError(
            f"several objects are the {what}: name it by id too" if found else f"no {what}"
        )
    return found[0]


def _ec_point(value: bytes) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING around the point; a few modules give the bare point."""
    if (len(value), value[:2]) in ((67, b"\x04\x41"), (35, b"\x04\x21")):
        return value[2:]
    return value


class TokenKey(ec.EllipticCurvePrivateKey):
    """A P-256 private key in a PKCS#11 token: it signs there (CKM_ECDSA over a SHA-256 digest
    made here) and cannot be exported. Its session stays open until `close()` or collection."""

    def __init__(self, uri: str) -> None:
        self.uri = KeyURI.parse(uri)
        if not self.uri.module:
            raise TokenError(
                f"name the token's PKCS#11 module with {MODULE_VARIABLE} or module-path= in the "
                "URI, e.g. /usr/lib/softhsm/libsofthsm2.so"
            )
        with _translated(self.uri):
            try:
                library = pkcs11.lib(self.uri.module)
            except p11.PKCS11Error as exc:
                raise TokenError(
                    f"cannot load the PKCS#11 module {self.uri.module}: {exc}"
                ) from exc
            serial = self.uri.serial.encode() if self.uri.serial is not None else None
            tokens = [  # a module's spare slots hold uninitialised tokens: never the one meant
                token
                for token in library.get_tokens(token_label=self.uri.token, token_serial=serial)
                if token.flags & TokenFlag.TOKEN_INITIALIZED
            ]
            if len(tokens) != 1:
                raise TokenError(
                    "several tokens match: name one with token=LABEL in the URI"
                    if tokens
                    else f"no {self.uri.token_name()} in the PKCS#11 module {self.uri.module}"
                )
            token = tokens[0]
            self._slot = (self.uri.module, token.slot.slot_id)
            self._login = self._log_in(token)
        self._closer = weakref.finalize(self, _release, self._slot, self._login)
        try:
            with _translated(self.uri):
                session, what = self._login.session, self.uri.describe()
                private = _one(
                    session, self.uri.key_attributes(ObjectClass.PRIVATE_KEY), f"EC private {what}"
                )
                public = _one(
                    session, self.uri.key_attributes(ObjectClass.PUBLIC_KEY), f"EC public {what}"
                )
                parameters, point = private[Attribute.EC_PARAMS], public[Attribute.EC_POINT]
            if not isinstance(private, SignMixin):
                raise TokenError(f"the {self.uri.describe()} may not sign (CKA_SIGN is false)")
            if bytes(parameters) != _P256_PARAMETERS:
                raise TokenError(f"the {self.uri.describe()} is not on P-256")
            try:
                self._public = ec.EllipticCurvePublicKey.from_encoded_point(
                    ec.SECP256R1(), _ec_point(bytes(point))
                )
            except ValueError as exc:
                raise TokenError(
                    f"the public key beside the {self.uri.describe()} is not a P-256 point"
                ) from exc
            self._private = private
        except BaseException:
            self.close()
            raise

    def _log_in(self, token: Token) -> _Login:
        pin = _pin(self.uri, token)
        digest = hashlib.sha256(pin.encode() if isinstance(pin, str) else b"").digest()
        with _LOGINS_LOCK:
            login = _LOGINS.get(self._slot)
            if login is None:
                login = _Login(token.open(user_pin=pin), digest)
                _LOGINS[self._slot] = login
            elif not hmac.compare_digest(login.pin_digest, digest):
                raise p11.PinIncorrect()
            login.users += 1
            return login

    def close(self) -> None:
        """End this key's use of its session (the last key of a token logs out)."""
        if hasattr(self, "_closer"):
            self._closer()

    def __enter__(self) -> TokenKey:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<TokenKey {self.uri.describe()}>"

    def sign(self, data: Buffer, signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA) or not isinstance(
            signature_algorithm.algorithm, hashes.SHA256
        ):
            raise TokenError("a token key signs ECDSA with SHA-256 only")
        if getattr(signature_algorithm, "deterministic_signing", False):
            raise TokenError("a token key cannot sign deterministically (RFC 6979)")
        if not self._closer.alive:
            raise TokenError(f"the {self.uri.describe()} is closed")
        digest = hashlib.sha256(data).digest()
        with self._login.lock, _translated(self.uri):
            raw = self._private.sign(digest, mechanism=Mechanism.ECDSA)
        if len(raw) != 64:
            raise TokenError(f"the token returned a {len(raw)}-byte signature, not a P-256 r||s")
        return encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        return ec.SECP256R1()

    @property
    def key_size(self) -> int:
        return 256

    def _stays_in_the_token(self) -> NoReturn:
        raise TokenError(f"the {self.uri.describe()} stays in the token: it cannot be exported")

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        self._stays_in_the_token()

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        self._stays_in_the_token()

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        raise TokenError("a token key only signs")

    def __copy__(self) -> TokenKey:
        return self  # a handle on one key in one token: a copy is the same key

    def __deepcopy__(self, memo: dict[int, object]) -> TokenKey:
        return self
