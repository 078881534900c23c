"""The monitor's memory in its state directory: one JSON file, replaced atomically."""

from __future__ import annotations

import json
from pathlib import Path

from provenance.audit.monitor import MonitorState
from provenance.audit.replay import ReplayState
from provenance.errors import BadParameter
from provenance.log.canonical import parse_json
from provenance.log.files import replace_file

STATE_FILE = "monitor-state.json"
#: A copy of the accepted checkpoint as a plain signed note, for other tools.
CHECKPOINT_FILE = "checkpoint"
FORMAT = "provenance-monitor-state/v1"


def load_state(directory: Path, origin: str) -> MonitorState:
    """The state kept in `directory` for the log `origin`; a fresh one if there is none."""
    path = directory / STATE_FILE
    try:
        data = parse_json(path.read_bytes())
    except FileNotFoundError:
        return MonitorState()
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BadParameter(f"{path} is not a monitor state file ({FORMAT})")
    if data.get("origin") != origin:
        raise BadParameter(
            f"{path} is the state of log {data.get('origin')!r}, not {origin!r}: "
            "use one state directory per log"
        )
    return MonitorState(str(data["checkpoint"]), ReplayState.from_json(data["replay"]))


def save_state(directory: Path, origin: str, state: MonitorState) -> None:
    """Write the state so that a crash leaves either the old file or the new one."""
    if state.checkpoint is None:
        raise ValueError("nothing accepted yet")
    directory.mkdir(parents=True, exist_ok=True)
    body = {
        "format": FORMAT,
        "origin": origin,
        "checkpoint": state.checkpoint,
        "replay": state.replay.to_json(),
    }
    replace_file(directory / STATE_FILE, json.dumps(body, indent=1).encode() + b"\n")
    replace_file(directory / CHECKPOINT_FILE, state.checkpoint.encode())
