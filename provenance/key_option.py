"""The type of the commands' key options: a private key file, or a key in a PKCS#11 token."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem

from provenance.client import TOKEN_KEY_PREFIX

#: What each key option's help adds about the forms it takes.
KEY_FORMS = "a PEM file, or 'pkcs11:token=…;object=…' for a key in a PKCS#11 token"


if TYPE_CHECKING:  # newer clicks type ParamType by what it converts
    _ParamType = click.ParamType[Path | str, object]
else:
    _ParamType = click.ParamType


class KeyReference(_ParamType):
    """An existing key file (a Path), or a `pkcs11:` URI (kept as the string) for
    provenance.client.load_private_key."""

    name = "key"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Path | str:
        if isinstance(value, Path):
            return value
        text = str(value)
        if text.startswith(TOKEN_KEY_PREFIX):
            return text
        file = click.Path(exists=True, dir_okay=False, path_type=Path)
        converted: Path = file.convert(text, param, ctx)
        return converted

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        return [CompletionItem(incomplete, type="file")]


KEY = KeyReference()


def key_help(what: str) -> str:
    """An option's help: what the key is, then the forms it takes."""
    return f"{what} ({KEY_FORMS})"
