"""`nextPageToken` of EPCIS event queries: the generic list token, refused as EPCIS refuses."""

from __future__ import annotations

from provenance.epcis.errors import BadEpcis
from provenance.errors import BadParameter
from provenance.supply.event_queries import EventKey
from provenance.web.page_token import make_token, read_token


def make(after: EventKey, query: str) -> str:
    """An opaque token: the key of the last event on the page, bound to the query it pages.

    It grants nothing: each page is filtered by the reader's access as the first one was, so a
    token needs no secret; the binding only keeps a token from being used with another query."""
    return make_token(after, query)


def read(token: str, query: str) -> EventKey:
    """The key a token continues after; BadEpcis (the binding's QueryParameterException) if it
    is not one of ours, or is for another query."""
    try:
        at, idx, position = read_token(token, query, (str, int, int))
    except BadParameter:
        raise BadEpcis(
            "nextPageToken is not a token this service gave, or belongs to another query: repeat "
            "the query's other parameters as they were"
        ) from None
    return str(at), int(idx), int(position)
