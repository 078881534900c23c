"""How deeply a JSON document nests: refused past a limit before anything recurses into it."""

from __future__ import annotations

from typing import Any

from provenance.epcis.errors import BadEpcis

#: Deeper than any EPCIS event needs (an event is four levels into its document, and its own
#: structures a few more), shallow enough that hashing's recursion stays far from Python's limit.
MAX_DEPTH = 64


def nesting_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Levels of arrays and objects in `value` (a scalar is 0), counted up to `limit` + 1.

    Iterative, so that a document nested thousands deep is measured without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        stack.extend((c, depth) for c in children if isinstance(c, (dict, list)))
    return deepest


def check_depth(doc: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse a document whose arrays and objects nest more than `limit` levels deep."""
    if nesting_depth(doc, limit) > limit:
        raise BadEpcis(f"the document nests more than {limit} levels deep", max_depth=limit)
