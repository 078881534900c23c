"""The EPCIS 2.0 REST binding's read resources: one event, and the top-level collections
(event types, EPCs, business steps, locations, read points, dispositions) with their events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, json, request
from werkzeug.datastructures import MultiDict

from provenance.access.rules import SIGNED_IN, Rule
from provenance.access.web import current_principal
from provenance.epcis.epc_index import MATCH_FIELDS, field_range
from provenance.epcis.query import CONTEXT
from provenance.epcis.simple_query import PAGE_LIMIT
from provenance.errors import BadParameter, NotFound
from provenance.gs1.epc_uri import normalise_epc
from provenance.log.store.engine import read_connection
from provenance.supply import event_values
from provenance.supply.web import epcis_headers, page_token
from provenance.supply.web.epcis import QUERY_SPEC, answer_query
from provenance.web.context import service
from provenance.web.openapi import openapi

bp = Blueprint("epcis_rest", __name__)
bp.before_request(epcis_headers.check_request)

#: Distinct index keys one page of a collection examines at most.
WALK_BUDGET = 5000
_PAGING = {name: {"schema": {"type": "string"}} for name in ("perPage", "nextPageToken")}


@dataclass(frozen=True)
class Collection:
    """A top-level resource: the index fields its members are read from, the path argument
    that names one member, and the query parameter that finds the member's events."""

    fields: tuple[str, ...]
    argument: str
    parameter: str
    epcs: bool = False  # members are identifiers written in the form GS1-EPC-Format asks


COLLECTIONS = {
    "eventTypes": Collection(("eventType",), "event_type", "eventType"),
    "epcs": Collection(MATCH_FIELDS["MATCH_anyEPC"], "epc", "MATCH_anyEPC", epcs=True),
    "bizSteps": Collection(("bizStep",), "biz_step", "EQ_bizStep"),
    "bizLocations": Collection(("bizLocation",), "biz_location", "EQ_bizLocation", epcs=True),
    "readPoints": Collection(("readPoint",), "read_point", "EQ_readPoint", epcs=True),
    "dispositions": Collection(("disposition",), "disposition", "EQ_disposition"),
}


@bp.get("/epcis")
@openapi(headers=epcis_headers.REQUEST_HEADERS)
def discovery() -> Response:
    """The top-level resources of this EPCIS repository (EPCIS 2.0 REST binding); OPTIONS on it
    answers 204 with the binding's GS1 headers."""
    paths = {rule.rule for rule in current_app.url_map.iter_rules()}
    names = ["events", *COLLECTIONS]
    names += [n for n in ("capture", "queries") if any(p.startswith(f"/epcis/{n}") for p in paths)]
    return _collection(names)


@bp.get("/epcis/events/<path:event_id>")
@openapi(headers=epcis_headers.REQUEST_HEADERS)
def event(event_id: str) -> Response:
    """One event, by its eventID (or Event Hash ID), as an EPCISQueryDocument; 404 if there is
    no such event or the reader may not read it."""
    answer = answer_query(MultiDict([("EQ_eventID", event_id)]), current_principal())
    if not _holds_events(answer):
        raise NotFound(f"no event {event_id!r} that you may read")
    return answer


def _holds_events(answer: Response) -> bool:
    """Whether an EPCISQueryDocument answer lists any event."""
    results = json.loads(answer.get_data())["epcisBody"]["queryResults"]["resultsBody"]
    return bool(results["eventList"])


def _members(name: str, spec: Collection) -> Callable[[], Response]:
    def members() -> Response:
        return _list(name, spec)

    members.__name__ = name
    members.__doc__ = (
        f"The {name} of the events the reader may read (EPCIS 2.0 REST binding), a page at a "
        "time: perPage (at most 1,000) and the next link's nextPageToken."
    )
    return openapi(query=_PAGING, headers=epcis_headers.REQUEST_HEADERS)(members)


def _events_of(name: str, spec: Collection) -> Callable[..., Response]:
    def events_of(**path: str) -> Response:
        value = path[spec.argument]
        if spec.parameter in request.args:
            raise BadParameter(f"the path names the {spec.parameter} already")
        if spec.epcs:
            # In canonical form, so an EPC that holds a comma stays one EPC.
            value = normalise_epc(value) or value
        args = MultiDict(request.args)
        args.setlist(spec.parameter, [value])
        return answer_query(args, current_principal())

    events_of.__name__ = f"{name}_events"
    events_of.__doc__ = (
        f"The events of one of the {name} ({spec.parameter}), with any other SimpleEventQuery "
        "parameter, as /epcis/events answers them."
    )
    query = {k: v for k, v in QUERY_SPEC.items() if k != spec.parameter}
    return openapi(query=query, headers=epcis_headers.REQUEST_HEADERS)(events_of)


def _member(name: str, spec: Collection) -> Callable[..., Response]:
    def member(**path: str) -> Response:
        value = path[spec.argument]
        if spec.epcs:
            value = normalise_epc(value) or value
        args = MultiDict([(spec.parameter, value), ("perPage", "1")])
        if not _holds_events(answer_query(args, current_principal())):
            raise NotFound(f"no event you may read names {value!r} among the {name}")
        return _collection(["events"])

    member.__name__ = f"{name}_member"
    member.__doc__ = (
        f"One of the {name} (EPCIS 2.0 REST binding): the collection of its sub-resources, "
        '["events"]; 404 if no event the reader may read names it.'
    )
    return openapi(headers=epcis_headers.REQUEST_HEADERS)(member)


for _name, _spec in COLLECTIONS.items():
    bp.add_url_rule(f"/epcis/{_name}", _name, _members(_name, _spec))
    bp.add_url_rule(
        f"/epcis/{_name}/<path:{_spec.argument}>", f"{_name}_member", _member(_name, _spec)
    )
    bp.add_url_rule(
        f"/epcis/{_name}/<path:{_spec.argument}>/events",
        f"{_name}_events",
        _events_of(_name, _spec),
    )


def _list(name: str, spec: Collection) -> Response:
    unknown = sorted(set(request.args) - {"perPage", "nextPageToken"})
    if unknown:
        raise BadParameter(f"{name} takes perPage and nextPageToken only", unsupported=unknown)
    per_page = request.args.get("perPage", str(PAGE_LIMIT))
    if not (per_page.isascii() and per_page.isdigit()) or int(per_page) < 1:
        raise BadParameter("perPage must be a positive integer", parameter="perPage")
    limit = min(int(per_page), PAGE_LIMIT)
    token = request.args.get("nextPageToken")
    after = page_token.read(token, name)[0] if token else None
    if spec.epcs and spec.fields == MATCH_FIELDS["MATCH_anyEPC"]:
        # EPC keys are URIs, which start with a letter: past every `@field` key.
        low, high = "A", None
    else:
        low, high = field_range(spec.fields[0])
    with read_connection(service().engine) as conn:
        keys, following = event_values.index_values(
            conn,
            fields=spec.fields,
            low=low,
            high=high,
            reader=current_principal(),
            after=after,
            limit=limit,
            budget=WALK_BUDGET,
        )
        members = [key[len(low) :] if high is not None else key for key in keys]
        # A value longer than the index holds is kept as its digest: it cannot be listed.
        members = [m for m in members if not m.startswith("sha-256:")]
        convert = epcis_headers.epc_converter(conn) if spec.epcs else None
        if convert is not None:
            members = [convert(m) for m in members]
    headers = {}
    if following is not None:
        # A token names where the walk stopped (the key as the index holds it).
        link = urlencode(
            [("perPage", str(limit)), ("nextPageToken", page_token.make((following, 0, 0), name))]
        )
        headers["Link"] = f'<{epcis_headers.request_path()}?{link}>; rel="next"'
    return _collection(members, headers)


def _collection(members: list[str], headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"@context": CONTEXT, "type": "Collection", "member": members}
    return Response(json.dumps(body), mimetype=epcis_headers.media_type(), headers=headers)


ACCESS: dict[str, Rule] = {
    # As /epcis/events: each party what is in the events it may read, regulators everything.
    "epcis_rest.discovery": SIGNED_IN,
    "epcis_rest.event": SIGNED_IN,
    **{f"epcis_rest.{name}": SIGNED_IN for name in COLLECTIONS},
    **{f"epcis_rest.{name}_events": SIGNED_IN for name in COLLECTIONS},
    **{f"epcis_rest.{name}_member": SIGNED_IN for name in COLLECTIONS},
}
