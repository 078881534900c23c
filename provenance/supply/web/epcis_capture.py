"""EPCIS 2.0 capture (REST binding): a signed document logged as one entry, and its capture job."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import Blueprint, Response, request, url_for

from provenance.access.rules import Rule
from provenance.access.web import body_limit, current_principal
from provenance.epcis.document import MAX_EVENTS
from provenance.epcis.errors import BadEpcis
from provenance.epcis.query import EPCIS_PAYLOAD_TYPE
from provenance.errors import BadParameter, NotFound, TooLarge
from provenance.log.errors import BadEnvelope
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.supply import capture_jobs, event_queries
from provenance.supply.document_signature import HEADER
from provenance.supply.readers import limited_to
from provenance.supply.web import plain_capture
from provenance.supply.web.capture_api import (
    CAPTURE_BODY,
    CAPTURE_HEADERS,
    CAPTURED_RESPONSES,
    JOB_RESPONSES,
    JOBS_RESPONSES,
)
from provenance.web.api import SIGNED_STATEMENT, appended_json, json_body, json_response
from provenance.web.context import service
from provenance.web.openapi import openapi
from provenance.web.page_token import make_token, read_token

bp = Blueprint("epcis_capture", __name__)

#: What the capture interface announces (GS1-EPCIS-Capture-Limit and -File-Size-Limit), and
#: that a document is captured whole or not at all (GS1-Capture-Error-Behaviour).
LIMIT_HEADERS = {
    "GS1-EPCIS-Capture-Limit": str(MAX_EVENTS),
    "GS1-EPCIS-Capture-File-Size-Limit": str(plain_capture.MAX_DOCUMENT_BYTES),
    "GS1-Capture-Error-Behaviour": capture_jobs.ERROR_BEHAVIOUR,
}
#: An envelope carries the document in base64 (4 bytes for 3), plus its signature.
MAX_CAPTURE_BYTES = 4 * (plain_capture.MAX_DOCUMENT_BYTES // 3 + 1) + 64 * 1024
MAX_JOBS_PER_PAGE = 1000
_CAPTURE_ID = re.compile(r"^[0-9]{1,18}$")


@bp.after_request
def announce_limits(response: Response) -> Response:
    """Every capture answer (and OPTIONS, the binding's discovery) states the limits."""
    response.headers.update(LIMIT_HEADERS)
    if request.method == "OPTIONS" and response.status_code == 200 and not response.data:
        response.status_code = 204  # the binding's discovery answer has no body
    return response


@bp.post("/epcis/capture")
@body_limit(MAX_CAPTURE_BYTES)
@openapi(request_body=CAPTURE_BODY, responses=CAPTURED_RESPONSES, headers=CAPTURE_HEADERS)
def capture() -> Response:
    """A whole EPCISDocument, signed by the capturing party: a DSSE envelope (payloadType
    application/ld+json), or the document itself with its DSSE signature over the exact bytes
    in a DSSE-Signature header. Captured synchronously, all or nothing: 202 names the finished
    capture job, 200 a document the log already holds."""
    behaviour = request.headers.get("GS1-Capture-Error-Behaviour", capture_jobs.ERROR_BEHAVIOUR)
    if behaviour.strip() != capture_jobs.ERROR_BEHAVIOUR:
        raise BadParameter(
            f"GS1-Capture-Error-Behaviour {behaviour!r} is not offered: a document is captured "
            f"whole or not at all ({capture_jobs.ERROR_BEHAVIOUR})"
        )
    if HEADER in request.headers or request.mimetype == "application/ld+json":
        envelope = plain_capture.envelope_of_request()
    else:
        envelope = json_body("the DSSE envelope of the EPCIS document")
        if isinstance(envelope, dict) and envelope.get("type") == "EPCISDocument":
            raise plain_capture.unsigned()
        if not isinstance(envelope, dict) or envelope.get("payloadType") != EPCIS_PAYLOAD_TYPE:
            raise BadEnvelope(f"an EPCIS capture envelope has payloadType {EPCIS_PAYLOAD_TYPE}")
        payload = envelope.get("payload")
        if isinstance(payload, str) and len(payload) * 3 // 4 > plain_capture.MAX_DOCUMENT_BYTES:
            raise TooLarge(
                f"an EPCIS document is at most {plain_capture.MAX_DOCUMENT_BYTES} bytes",
                limit=plain_capture.MAX_DOCUMENT_BYTES,
            )
    appended = service().log.submit(envelope)
    with read_connection(service().engine) as conn:
        captured = event_queries.events_captured(conn, appended.index)
        claims = capture_jobs.unverified_claims(conn, appended.index)
        digest = logdb.payload_digest(conn, appended.index)
    body = appended_json(appended)
    body["events_captured"] = captured
    body["unverified_claims"] = claims
    body["payload"] = url_for("log.payload", digest=digest.hex() if digest else "")
    body["captureID"] = str(appended.index)
    job = url_for("epcis_capture.capture_job", capture_id=str(appended.index))
    return json_response(body, 200 if appended.duplicate else 202, {"Location": job})


@bp.get("/epcis/capture")
@openapi(
    query={
        "perPage": {"schema": {"type": "integer", "minimum": 1, "maximum": MAX_JOBS_PER_PAGE}},
        "nextPageToken": {"schema": {"type": "string"}},
    },
    responses=JOBS_RESPONSES,
)
def capture_jobs_list() -> Response:
    """The reader's capture jobs (a regulator's: every one), oldest first, a page at a time: a
    `Link: <…>; rel="next"` header carries the nextPageToken of the next page."""
    unknown = sorted(set(request.args) - {"perPage", "nextPageToken"})
    if unknown:
        raise BadEpcis("unsupported query parameters", unsupported=unknown)
    try:
        per_page = int(request.args.get("perPage", MAX_JOBS_PER_PAGE))
    except ValueError:
        raise BadEpcis("perPage must be an integer") from None
    if not 0 < per_page <= MAX_JOBS_PER_PAGE:
        raise BadEpcis(f"perPage is 1 to {MAX_JOBS_PER_PAGE}")
    token = request.args.get("nextPageToken")
    after = _after(token) if token else -1
    party = limited_to(current_principal())
    with read_connection(service().engine) as conn:
        found = capture_jobs.jobs(conn, party, after, per_page + 1)
    headers = {}
    if len(found) > per_page:
        found = found[:per_page]
        token = make_token((found[-1].index,), _JOBS)
        link = url_for("epcis_capture.capture_jobs_list") + "?"
        link += urlencode([("perPage", str(per_page)), ("nextPageToken", token)])
        # EPCIS 2.0 REST binding: the next page is the `next` link, carrying the token.
        headers["Link"] = f'<{link}>; rel="next"'
    return json_response([capture_jobs.job_json(job) for job in found], headers=headers)


@bp.get("/epcis/capture/<capture_id>")
@openapi(responses=JOB_RESPONSES)
def capture_job(capture_id: str) -> Response:
    """A capture job (the binding's CaptureJob): finished and successful, as capture is
    synchronous and all or nothing; with its log entry and what it captured."""
    who = current_principal()
    with read_connection(service().engine) as conn:
        found = capture_jobs.job(conn, int(capture_id)) if _CAPTURE_ID.match(capture_id) else None
        # Another party's job is as absent as one that does not exist.
        if found is None or not (who.regulator or who.gln == found.party):
            raise NotFound(f"no capture job {capture_id} of yours")
        captured = event_queries.events_captured(conn, found.index)
        claims = capture_jobs.unverified_claims(conn, found.index)
    body = {
        **capture_jobs.job_json(found),
        "entry": url_for("api.entry", index=found.index),
        "events_captured": captured,
        "unverified_claims": claims,
    }
    return json_response(body)


#: Who reads a job is decided by the view: another party's job answers 404, not 403.
JOB_READERS = Rule(
    "the party that captured it, and regulators (404 to other parties)",
    lambda who, facts: who.authenticated,
)

ACCESS: dict[str, Rule] = {
    # The document is signed whole by a registered key (an envelope, or its DSSE-Signature).
    "epcis_capture.capture": SIGNED_STATEMENT,
    "epcis_capture.capture_jobs_list": Rule(
        "any registered party: its own capture jobs (regulators: all)",
        lambda who, facts: who.authenticated,
    ),
    "epcis_capture.capture_job": JOB_READERS,
}


#: What a capture job list's token is bound to: the list, whose only parameter is its page size.
_JOBS = "epcis capture jobs"


def _after(token: str) -> int:
    """The entry a jobs page continues after; 422 `bad-epcis` for a token not given for it."""
    try:
        (after,) = read_token(token, _JOBS, (int,))
    except BadParameter:
        raise BadEpcis("nextPageToken is not a token this service gave") from None
    return int(after)
