"""Supply-chain HTTP: the GS1 Digital Link resolver, scan page, QR labels, alerts, DSCSA answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import Blueprint, Response, make_response, render_template, request

from provenance.access.principal import ANONYMOUS, Principal
from provenance.access.rules import PUBLIC, SIGNED_IN, Rule
from provenance.access.web import current_principal
from provenance.errors import Error, NotFound
from provenance.gs1 import keys as gs1
from provenance.gs1 import qr
from provenance.gs1 import scanner as barcode
from provenance.gs1.errors import BadIdentifier
from provenance.log.statements import now_timestamp
from provenance.log.store.engine import read_connection
from provenance.supply import queries as supply_queries
from provenance.supply.web.access import BATCH_HANDLERS, BATCH_MAKER
from provenance.web.api import json_response
from provenance.web.context import service
from provenance.web.headers import allow_any_origin

bp = Blueprint(
    "supply",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/supply",
)

#: DSCSA verification: a link type the resolver answers with Lightweight Verification Messaging.
VERIFICATION_LINK_TYPES = {"verificationService", "gs1:verificationService"}

Identifier = TypeVar("Identifier", gs1.Lot, gs1.Serial)


def stem() -> str:
    """The configured public URL: a request's Host header never decides where a link points."""
    return service().settings.public_url


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _gtin(value: str) -> gs1.GTIN:
    return gs1.normalise_gtin(value)


def _optional(kind: Callable[[str], Identifier], value: str | None) -> Identifier | None:
    """A lot or serial that was read and checked, as its type; None when it was not given."""
    return None if value is None else kind(value)


def _checked(value: str | None, valid: bool, what: str) -> str | None:
    if value is not None and not valid:
        raise BadIdentifier(f"{what} {value!r} is not 1-20 characters of the GS1 character set 82")
    return value


def _lookup(
    gtin: str, lot: str | None, serial: str | None, reader: Principal
) -> supply_queries.Lookup:
    """The verdict and what `reader` may see of the batch (ANONYMOUS: the public facts)."""
    gtin14 = _gtin(gtin)
    _checked(lot, gs1.is_valid_lot(lot), "lot")
    _checked(serial, gs1.is_valid_serial(serial), "serial")
    expiry = request.args.get("17")
    if expiry is not None:
        gs1.parse_expiry(expiry)
    with read_connection(service().engine) as conn:
        return supply_queries.lookup(
            conn,
            gtin14,
            _optional(gs1.Lot, lot),
            _optional(gs1.Serial, serial),
            expiry=expiry,
            reader=reader,
        )


def _verdict_response(gtin: str, lot: str | None, serial: str | None) -> Response:
    """The verdict page, or its JSON, which any site's scripts may read (a pharmacy system or a
    verification app on another origin), its errors too."""
    as_json = wants_json()
    if as_json:
        allow_any_origin()
    body = _lookup(gtin, lot, serial, current_principal()).to_json(stem())
    if as_json:
        response = json_response(body)
    else:
        response = make_response(render_template("batch.html", v=body, now=now_timestamp()))
    response.vary.add("Accept")
    return _for_its_reader(response, body)


def _for_its_reader(response: Response, body: dict[str, Any]) -> Response:
    """An answer depends on who asks: no cache may keep a party's view for anyone else."""
    response.vary.update(("Cookie", "Signature"))
    if body["view"] == "full":
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/01/<gtin>/10/<lot>")
def resolve_batch(gtin: str, lot: str) -> Response:
    return _verdict_response(gtin, lot, None)


@bp.get("/01/<gtin>/10/<lot>/21/<serial>")
def resolve_pack(gtin: str, lot: str, serial: str) -> Response:
    return _verdict_response(gtin, lot, serial)


@bp.get("/01/<gtin>/21/<serial>")
def resolve_serial(gtin: str, serial: str) -> Response:
    if request.args.get("linkType") in VERIFICATION_LINK_TYPES:
        return dscsa_verification(gtin, serial)
    return _verdict_response(gtin, request.args.get("10"), serial)


def dscsa_verification(gtin: str, serial: str) -> Response:
    """GS1 Lightweight Verification Messaging: `verified` and a failure reason code."""
    # By serial (the lot asked for is compared below); the answer holds only public facts.
    found = _lookup(gtin, None, serial, ANONYMOUS)
    lot, expiry = request.args.get("10"), request.args.get("17")
    data: dict[str, Any] = {"verified": False}
    batch = found.batch
    if found.pack is None or batch is None:
        data["verificationFailureReason"] = "No_match_GTIN_Serial"
    else:
        lot_ok = lot is None or lot == batch["lot"]
        expiry_ok = expiry is None or expiry == batch["expiry"]
        if not lot_ok and not expiry_ok:
            data["verificationFailureReason"] = "No_match_GTIN_Serial_Lot_Expiry"
        elif not lot_ok:
            data["verificationFailureReason"] = "No_match_GTIN_Serial_Lot"
        elif not expiry_ok:
            data["verificationFailureReason"] = "No_match_GTIN_Serial_Expiry"
        elif found.verdict.code == "authentic":
            data["verified"] = True
        else:
            data["verificationFailureReason"] = "Not_for_re-distribution"
            data["additionalInfo"] = {
                "recalled": "Recalled",
                "expired": "Expired",
                "unknown": "Illegitimate",
            }.get(found.verdict.code, "Suspect")
    body: dict[str, Any] = {
        "verificationTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "responderGLN": service().settings.authority_gln,
        "data": data,
    }
    if request.args.get("corrUUID"):
        body["corrUUID"] = request.args["corrUUID"]
    return json_response(body)


@bp.get("/scan")
def scan_page() -> Response:
    """Keyboard-wedge input (any GS1 form) or a camera; the verdict renders server-side too."""
    code = request.args.get("code")
    result: dict[str, Any] | None = None
    error: str | None = None
    if code:
        try:
            result = _scan_json(code)
        except Error as exc:
            error = exc.detail
    page = render_template("scan.html", code=code or "", result=result, error=error)
    return _for_its_reader(make_response(page), result or {"view": "public"})


def _scan_json(code: str) -> dict[str, Any]:
    scan = barcode.parse_scan(code)
    with read_connection(service().engine) as conn:
        found = supply_queries.lookup(
            conn,
            gs1.GTIN(scan.gtin),
            _optional(gs1.Lot, scan.lot),
            _optional(gs1.Serial, scan.serial),
            expiry=scan.expiry,
            reader=current_principal(),
        )
    body = found.to_json(stem())
    body["scan"] = {
        "form": scan.form,
        "symbology": scan.symbology,
        "element_string": scan.bracketed(),
    }
    body["scan_warnings"] = list(scan.warnings)
    return body


@bp.get("/api/v1/scan")
def scan_api() -> Response:
    code = request.args.get("code")
    if not code:
        raise BadIdentifier("give the scanned data as ?code=")
    body = _scan_json(code)
    return _for_its_reader(json_response(body), body)


@bp.get("/api/v1/batches")
def list_batches() -> Response:
    with read_connection(service().engine) as conn:
        found = supply_queries.batches(conn, reader=current_principal())
    return json_response({"batches": found})


@bp.get("/api/v1/batches/<gtin>/<lot>")
def batch_json(gtin: str, lot: str) -> Response:
    found = _lookup(gtin, lot, None, current_principal())
    if found.batch is None:
        raise NotFound(f"no batch {found.gtin}/{lot}")
    return json_response(found.to_json(stem()))


def _batch_uri(gtin: str, lot: str) -> str:
    found = _lookup(gtin, lot, None, ANONYMOUS)
    if found.batch is None:
        raise NotFound(f"no batch {found.gtin}/{lot}")
    return gs1.digital_link_uri(stem(), found.gtin, lot)


@bp.get("/api/v1/batches/<gtin>/<lot>/qr.png")
def batch_qr_png(gtin: str, lot: str) -> Response:
    return Response(qr.qr_png(_batch_uri(gtin, lot)), mimetype="image/png")


@bp.get("/api/v1/batches/<gtin>/<lot>/qr.svg")
def batch_qr_svg(gtin: str, lot: str) -> Response:
    return Response(qr.qr_svg(_batch_uri(gtin, lot)), mimetype="image/svg+xml")


@bp.get("/labels/<gtin>/<lot>")
def label_sheet(gtin: str, lot: str) -> str:
    """A printable sheet: one label per serial (or one for the batch), QR plus human text."""
    found = _lookup(gtin, lot, None, ANONYMOUS)  # the label's public facts
    if found.batch is None or found.product is None:
        raise NotFound(f"no batch {found.gtin}/{lot}")
    with read_connection(service().engine) as conn:
        serials: list[str | None] = list(supply_queries.serials_of(conn, found.gtin, lot)) or [None]
    labels = []
    for serial in serials:
        uri = gs1.digital_link_uri(stem(), found.gtin, lot, serial)
        labels.append({"serial": serial, "uri": uri, "qr": qr.qr_data_uri(uri)})
    return render_template("labels.html", product=found.product, batch=found.batch, labels=labels)


@bp.get("/api/v1/alerts")
def list_alerts() -> Response:
    open_only = request.args.get("open") in {"1", "true", "yes"}
    with read_connection(service().engine) as conn:
        found = supply_queries.alerts(conn, open_only=open_only, reader=current_principal())
    return json_response({"alerts": found})


ACCESS: dict[str, Rule] = {
    # A verdict is for anyone who scans a pack; each view shows its reader what it may see.
    "supply.resolve_batch": PUBLIC,
    "supply.resolve_pack": PUBLIC,
    "supply.resolve_serial": PUBLIC,
    "supply.scan_page": PUBLIC,
    "supply.scan_api": PUBLIC,
    # Lists answer each party its own batches and alerts, a regulator all.
    "supply.list_batches": SIGNED_IN,
    "supply.list_alerts": SIGNED_IN,
    "supply.batch_json": BATCH_HANDLERS,
    "supply.batch_qr_png": BATCH_MAKER,
    "supply.batch_qr_svg": BATCH_MAKER,
    "supply.label_sheet": BATCH_MAKER,
}
