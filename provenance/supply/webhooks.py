"""Sending a query result to a subscriber's webhook: signed, and never to a private address.

The destination is the subscriber's to choose, so it is checked as hostile input: https only
(http where the operator allows it), no credentials in the URL, and every address its host
resolves to must be public (unless the operator allows private ones); the connection goes to the
address that was checked, so a name cannot resolve one way for the check and another for the
request. Redirects are not followed, every wait has a timeout and the answer is read only up to
a bound.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from provenance.errors import BadParameter

MAX_URL = 2048
#: What is read of a subscriber's answer: its status is all that counts.
MAX_ANSWER_BYTES = 64 * 1024
SIGNATURE_HEADER = "GS1-Signature"


@dataclass(frozen=True)
class Policy:
    """Where deliveries may go, from the app's config (`PROVENANCE_EPCIS_WEBHOOK_…`)."""

    allow_http: bool = False
    allow_private: bool = False
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Policy:
        return cls(
            allow_http=_flag(config.get("EPCIS_WEBHOOK_ALLOW_HTTP")),
            allow_private=_flag(config.get("EPCIS_WEBHOOK_ALLOW_PRIVATE")),
            timeout=float(config.get("EPCIS_WEBHOOK_TIMEOUT", 10.0)),
        )


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class DeliveryFailed(Exception):
    """A delivery that did not get a 2xx answer: the reason is kept for the subscriber."""


def check_destination(url: str, policy: Policy) -> SplitResult:
    """A subscriber's `dest`, checked without resolving it; BadParameter says what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadParameter("dest is not a URL") from None
    schemes = ("https", "http") if policy.allow_http else ("https",)
    printable = url.isascii() and url.isprintable() and " " not in url
    if len(url) > MAX_URL or not printable or parts.scheme not in schemes or not parts.hostname:
        raise BadParameter(
            f"dest is an {' or '.join(schemes)} URL of at most {MAX_URL} printable ASCII characters"
        )
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise BadParameter("dest carries no credentials and no fragment")
    if port == 0:
        raise BadParameter("dest names no port 0")
    literal = _address(parts.hostname)
    if (literal is not None and not allowed(literal, policy)) or (
        parts.hostname.lower() == "localhost" and not policy.allow_private
    ):
        raise BadParameter("dest is a private, loopback or link-local address")
    return parts


def allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, policy: Policy) -> bool:
    """Whether a delivery may connect to `address`: a public one, or any if allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return policy.allow_private or (address.is_global and not address.is_multicast)


def signature(token: str, body: bytes) -> str:
    """The `GS1-Signature` of a body: HMAC-SHA256 keyed with the subscriber's token, in hex."""
    return "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, headers: Mapping[str, str], policy: Policy) -> int:
    """POST `body` to `url`; its 2xx status, or DeliveryFailed."""
    try:
        parts = check_destination(url, policy)
    except BadParameter as exc:
        raise DeliveryFailed(exc.detail) from None
    host = parts.hostname or ""
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    address = _resolve(host, port, policy)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = _Pinned(host, port, address, secure, policy.timeout)
    try:
        connection.request("POST", target, body=body, headers={**headers, "Host": parts.netloc})
        answer = connection.getresponse()
        answer.read(MAX_ANSWER_BYTES)  # bounded: what the subscriber says beyond it is unread
        status = answer.status
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:300]) from None
    finally:
        connection.close()
    if not 200 <= status < 300:
        raise DeliveryFailed(f"{url} answered {status}")
    return status


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _resolve(host: str, port: int, policy: Policy) -> str:
    """An address of `host` to connect to, if every address it has is allowed."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DeliveryFailed(f"{host} does not resolve: {exc}") from None
    addresses = [str(info[4][0]) for info in found]
    for text in addresses:
        address = _address(text.split("%", 1)[0])
        if address is None or not allowed(address, policy):
            raise DeliveryFailed(f"{host} resolves to {text}, a private or reserved address")
    if not addresses:
        raise DeliveryFailed(f"{host} has no address")
    return addresses[0]


class _Pinned(http.client.HTTPConnection):
    """A connection to the checked address, speaking TLS (with the host's name checked) for
    https."""

    def __init__(self, host: str, port: int, address: str, secure: bool, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self._secure = secure

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        if self._secure:
            context = ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=self.host)
        self.sock = sock
