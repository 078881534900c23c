"""A separate OS process that appends signed statements, for concurrency and crash tests.

usage: appender.py DATA_DIR DATABASE_URL KEY_PEM TAG COUNT [BATCH]
Prints each committed index (or, with BATCH > 1, each committed tree size), flushed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from provenance.client import build_envelope, load_private_key  # noqa: E402
from provenance.log.service import Service  # noqa: E402
from provenance.log.settings import Settings  # noqa: E402
from tests.log.members import core_registry  # noqa: E402


def main() -> None:
    data_dir, url, key_path, tag, count = sys.argv[1:6]
    batch = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    settings = Settings.from_config({"DATA_DIR": data_dir, "DATABASE_URL": url})
    service = Service(settings, core_registry())
    key = load_private_key(Path(key_path))
    origin = settings.origin
    envelopes = [
        build_envelope(key, "attestation", {"subject": f"{tag}/{i}", "claim": {"i": i}}, log=origin)
        for i in range(int(count))
    ]
    if batch == 1:
        for envelope in envelopes:
            print(service.log.submit(envelope).index, flush=True)
        return
    for start in range(0, len(envelopes), batch):
        items = [service.log.parse(e) for e in envelopes[start : start + batch]]
        results = service.log.submit_many(items)
        print(results[-1].index + 1, flush=True)


if __name__ == "__main__":
    main()
