"""Column constructors shared by the projection tables (supply chain and trials)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, String, Text


def string(length: int, **options: Any) -> Column[Any]:
    return Column(String(length), **options)


def bigint(**options: Any) -> Column[Any]:
    return Column(BigInteger, **options)


def text(**options: Any) -> Column[Any]:
    return Column(Text, **options)
