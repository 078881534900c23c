"""The package structure holds: no module imports itself through others."""

from __future__ import annotations

import grimp


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("provenance", "trials", cache_dir=None)
    cycles = sorted(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if imported in graph.modules and graph.chain_exists(importer=imported, imported=module)
    )
    assert cycles == []
