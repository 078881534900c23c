"""A deployment's settings, read in one place: the app's config first, then the environment."""

from __future__ import annotations

import os
import re
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance.errors import BadParameter
from provenance.gs1.keys import is_valid_gln
from provenance.log import keystore

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: data/ of a source checkout; an installed package's is the instance folder Flask would give
#: it (<prefix>/var/provenance.app-instance), never a folder inside site-packages.
DEFAULT_DATA_DIR = (
    PROJECT_ROOT / "data"
    if (PROJECT_ROOT / "pyproject.toml").is_file()
    else Path(sys.prefix) / "var" / "provenance.app-instance"
)
DEFAULT_ORIGIN = "provenance.local/log"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
#: GLN of the registry authority unless configured: GS1 prefix 0000000 is never assigned.
DEFAULT_AUTHORITY_GLN = "0000000000000"
DEFAULT_UPLOAD_QUOTA = 256 * 1024 * 1024
#: Requests a minute: per party (signed requests and sessions), per client network (anonymous).
DEFAULT_RATE_LIMIT_PARTY = 1200
DEFAULT_RATE_LIMIT_ADDRESS = 300


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    origin: str
    authority_name: str
    authority_gln: str
    sqlite_synchronous: str = "FULL"
    #: Where the service is reached: links, Digital Link URIs and QR codes are built from it,
    #: never from a request's Host header.
    public_url: str = DEFAULT_PUBLIC_URL
    #: The plug-ins (entry points of the group `provenance.plugins`) to install; None: all.
    plugins: tuple[str, ...] | None = None
    #: Bytes one party may upload off the log (trial payloads) in any 24 hours.
    upload_quota: int = DEFAULT_UPLOAD_QUOTA
    #: Requests a minute a party may make, and anonymous requests from one client network; 0: off.
    rate_limit_party: int = DEFAULT_RATE_LIMIT_PARTY
    rate_limit_address: int = DEFAULT_RATE_LIMIT_ADDRESS
    #: Reverse proxies in front of the service whose X-Forwarded-For is believed (0: none, the
    #: peer address is the client's).
    proxy_hops: int = 0
    #: Witnesses asked to cosign each checkpoint: "<witness vkey>=<submission URL>" entries.
    witnesses: tuple[str, ...] = ()
    #: Serve the log without writing anything (a copy, a replica, a damaged log kept for reading).
    read_only: bool = False
    #: The GLN a verification service (GS1 LVM) answers as; None: answers name no responder.
    responder_gln: str | None = None
    #: The Unix socket of the log's appender process, which appends for every worker process
    #: (set by the gunicorn configuration when it starts one); None: append in this process.
    appender_socket: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        data_dir = Path(
            config.get("DATA_DIR") or os.environ.get("PROVENANCE_DATA_DIR") or DEFAULT_DATA_DIR
        )
        url = (
            config.get("DATABASE_URL")
            or os.environ.get("DATABASE_URL")
            or f"sqlite:///{data_dir / 'provenance.db'}"
        )
        return cls(
            data_dir=data_dir,
            database_url=str(url),
            origin=str(
                config.get("ORIGIN") or os.environ.get("PROVENANCE_ORIGIN") or DEFAULT_ORIGIN
            ),
            authority_name=str(config.get("AUTHORITY_NAME") or "Registry authority"),
            authority_gln=str(config.get("AUTHORITY_GLN") or DEFAULT_AUTHORITY_GLN),
            sqlite_synchronous=str(config.get("SQLITE_SYNCHRONOUS") or "FULL"),
            public_url=checked_public_url(
                str(
                    config.get("PUBLIC_URL")
                    or os.environ.get("PROVENANCE_PUBLIC_URL")
                    or DEFAULT_PUBLIC_URL
                )
            ),
            plugins=_names(
                config["PLUGINS"] if "PLUGINS" in config else os.environ.get("PROVENANCE_PLUGINS")
            ),
            upload_quota=_number(config, "UPLOAD_QUOTA", DEFAULT_UPLOAD_QUOTA, "bytes"),
            rate_limit_party=_number(
                config, "RATE_LIMIT_PARTY", DEFAULT_RATE_LIMIT_PARTY, "requests a minute"
            ),
            rate_limit_address=_number(
                config, "RATE_LIMIT_ADDRESS", DEFAULT_RATE_LIMIT_ADDRESS, "requests a minute"
            ),
            proxy_hops=_number(config, "PROXY_HOPS", 0, "proxies"),
            read_only=_flag(config, "READ_ONLY"),
            responder_gln=_gln(config, "RESPONDER_GLN"),
            appender_socket=str(
                config.get("APPENDER_SOCKET") or os.environ.get("PROVENANCE_APPENDER_SOCKET") or ""
            )
            or None,
            witnesses=_entries(
                config["WITNESSES"]
                if "WITNESSES" in config
                else os.environ.get("PROVENANCE_WITNESSES")
            ),
        )

    @property
    def keys(self) -> keystore.KeyPaths:
        return keystore.KeyPaths.under(self.data_dir)


_NETLOC = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]+)?|\[[0-9A-Fa-f:.]+\](:[0-9]+)?")


def checked_public_url(value: str) -> str:
    """The public base URL without a trailing slash, or BadParameter saying what is wrong with it.

    It is only scheme and host (and port): the routes are served at the root, so a path prefix
    would put QR codes on addresses the service does not answer."""
    problem = f"PUBLIC_URL (PROVENANCE_PUBLIC_URL) {value!r} must be http(s)://host[:port]"
    try:
        url = urllib.parse.urlsplit(value.strip())
        _ = url.port  # a port that is not a number from 0 to 65535 raises here
    except ValueError as exc:
        raise BadParameter(f"{problem}: {exc}") from None
    if url.scheme not in {"http", "https"} or not url.hostname:
        raise BadParameter(f"{problem}: give the scheme http or https and a host")
    if url.username is not None or url.password is not None:
        raise BadParameter(f"{problem}: without user or password")
    if not _NETLOC.fullmatch(url.netloc):
        raise BadParameter(f"{problem}: a host in ASCII (punycode), a port in digits")
    if url.path not in {"", "/"}:
        raise BadParameter(f"{problem}: without a path (the service is served at the root)")
    if url.query or url.fragment or value.strip().endswith(("?", "#")):
        raise BadParameter(f"{problem}: without a query or fragment")
    return f"{url.scheme}://{url.netloc.lower()}"


def _names(value: object) -> tuple[str, ...] | None:
    """A list of names from config (a list) or the environment (comma-separated)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    return tuple(str(item).strip() for item in items if str(item).strip())


def _entries(value: object) -> tuple[str, ...]:
    """Entries from config (a list) or the environment (separated by commas or newlines)."""
    if not value:
        return ()
    if isinstance(value, str):
        items: list[Any] = re.split(r"[,\n]", value)
    else:
        items = list(value)  # type: ignore[call-overload]
    return tuple(str(item).strip() for item in items if str(item).strip())


def _gln(config: Mapping[str, Any], name: str) -> str | None:
    """A GLN from config, else $PROVENANCE_<name>; None when unset, BadParameter if not a GLN."""
    value = config[name] if name in config else os.environ.get(f"PROVENANCE_{name}")
    if value is None or value == "":
        return None
    text = str(value).strip()
    if not is_valid_gln(text):
        raise BadParameter(f"{name} (PROVENANCE_{name}) must be a 13-digit GLN, not {value!r}")
    return text


def _flag(config: Mapping[str, Any], name: str) -> bool:
    """A yes/no setting from config, else $PROVENANCE_<name> (1/true/yes or 0/false/no/empty)."""
    value = config[name] if name in config else os.environ.get(f"PROVENANCE_{name}")
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"", "0", "false", "no", "off"}:
        return False
    raise BadParameter(f"{name} (PROVENANCE_{name}) must be 1 or 0, not {value!r}")


def _number(config: Mapping[str, Any], name: str, default: int, unit: str) -> int:
    """A whole number from config, else $PROVENANCE_<name>; BadParameter if it is not one."""
    value = config[name] if name in config else os.environ.get(f"PROVENANCE_{name}")
    if value is None or value == "":
        return default
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):
        raise BadParameter(f"{name} (PROVENANCE_{name}) must be a number of {unit}, not {value!r}")
    return int(text)
