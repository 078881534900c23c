"""The witness's HTTP interface (C2SP tlog-witness): add-checkpoint and the monitoring view."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from provenance.errors import Error
from provenance.log.witness_protocol import SIZE_CONTENT_TYPE, SizeConflict, format_size
from provenance.witness.cosigning import Witness
from provenance.witness.store import WitnessStore

TEXT = "text/plain; charset=utf-8"
#: 63 proof lines and a checkpoint with its signatures fit many times over.
MAX_REQUEST_BYTES = 256 * 1024
WITNESS = "provenance.witness"


def create_witness_app(directory: Path) -> Flask:
    """A witness over the state in `directory` (made by `provenance witness init`)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    witness = Witness(WitnessStore(directory))
    app.extensions[WITNESS] = witness

    @app.post("/add-checkpoint")
    def add_checkpoint() -> Response:
        try:
            line = witness.add_checkpoint(request.get_data())
        except SizeConflict as exc:
            # tlog-witness: the body is the latest cosigned size, with its own media type.
            return Response(format_size(exc.latest_size), 409, content_type=SIZE_CONTENT_TYPE)
        except Error as exc:
            return Response(f"{exc.detail}\n", exc.status, content_type=TEXT)
        return Response(line, 200, content_type=TEXT)

    @app.get("/<hashed_origin>/checkpoint")
    def checkpoint(hashed_origin: str) -> Response:
        note = witness.checkpoint(hashed_origin)
        if note is None:
            return Response("this witness has cosigned no checkpoint of that log\n", 404)
        return Response(note, content_type=TEXT, headers={"Cache-Control": "no-cache"})

    @app.get("/")
    def verifier_key() -> Response:
        """The witness's cosignature/v1 verifier key, for logs and clients to configure."""
        return Response(witness.signer.vkey() + "\n", content_type=TEXT)

    @app.errorhandler(HTTPException)
    def plain_error(exc: HTTPException) -> Response:
        return Response(f"{exc.description}\n", exc.code or 500, content_type=TEXT)

    return app
