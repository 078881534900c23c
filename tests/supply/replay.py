"""Supply operations run on ledgers over an in-memory projection, one entry each (no database)."""

from __future__ import annotations

from collections.abc import Callable

from provenance.errors import Error
from provenance.log.ledger import Ledger
from provenance.log.store.projection import MemoryView
from provenance.supply import operations
from provenance.supply.tables import KEYS

KEY_ID = "k" * 64


class Replay:
    """Each `run` is one entry, logged at `at`: its changes reach the view only if it succeeds."""

    def __init__(self, at: str, index: int = 10) -> None:
        self.view = MemoryView(KEYS)
        self.at = at
        self.index = index

    def ledger(self) -> Ledger:
        """A working copy for the next entry."""
        return Ledger(self.view, self.index, self.at, KEY_ID)

    def run(self, operation: Callable[..., object], **args: object) -> bool:
        ledger = self.ledger()
        try:
            operation(ledger, **args)
        except Error:
            return False  # refused: nothing of it may reach the view
        self.view.apply(ledger.changes())
        self.index += 1
        return True

    def register_product(self, gtin: str, maker: str) -> None:
        assert self.run(
            operations.register_product,
            party=maker,
            gtin=gtin,
            name="X",
            ndc=None,
            form="tablet",
            strength="1 mg",
        )
