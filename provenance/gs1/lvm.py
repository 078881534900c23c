"""GS1 Lightweight Verification Messaging (LVM): DSCSA verification requests and answers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from provenance.gs1.ai import validate
from provenance.gs1.errors import BadIdentifier, BadVerificationRequest
from provenance.gs1.keys import GLN, GTIN, Lot, Serial, is_valid_gln, parse_expiry

#: The GS1 Web Vocabulary link type of a verification service, in every spelling clients send.
VERIFICATION_SERVICE = "gs1:verificationService"
VOCABULARY_NAMESPACES = (
    "https://gs1.org/voc/",
    "https://www.gs1.org/voc/",
    "https://ref.gs1.org/voc/",
    "http://gs1.org/voc/",
)

#: verificationFailureReason codes (LVM; Implementation Guideline release 1.3).
NO_MATCH_GTIN_SERIAL = "No_match_GTIN_Serial"
NO_MATCH_GTIN_SERIAL_LOT_EXPIRY = "No_match_GTIN_Serial_Lot_Expiry"
NO_MATCH_GTIN_SERIAL_LOT = "No_match_GTIN_Serial_Lot"
NO_MATCH_GTIN_SERIAL_EXPIRY = "No_match_GTIN_Serial_Expiry"
NO_REASON_PROVIDED = "No_reason_provided"
#: The product is suspect or illegitimate and must not be redistributed.
NOT_FOR_REDISTRIBUTION = "Not_for_re-distribution"
MANUFACTURER_POLICY = "Manufacturer_policy"
FAILURE_REASONS = frozenset(
    {
        NO_MATCH_GTIN_SERIAL,
        NO_MATCH_GTIN_SERIAL_LOT_EXPIRY,
        NO_MATCH_GTIN_SERIAL_LOT,
        NO_MATCH_GTIN_SERIAL_EXPIRY,
        NO_REASON_PROVIDED,
        NOT_FOR_REDISTRIBUTION,
        MANUFACTURER_POLICY,
    }
)
#: additionalInfo codes.
RECALLED, EXPIRED, EXPIRATION_EXTENDED = "Recalled", "Expired", "ExpirationExtended"
SUSPECT, ILLEGITIMATE = "Suspect", "Illegitimate"
ADDITIONAL_INFO = frozenset({RECALLED, EXPIRED, EXPIRATION_EXTENDED, SUSPECT, ILLEGITIMATE})

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,100}")


def link_type(value: str) -> str:
    """A link type as its `gs1:` CURIE when it is one of the GS1 Web Vocabulary's (a bare name,
    a CURIE or the full URI under any of the vocabulary's namespaces), else as given."""
    for namespace in VOCABULARY_NAMESPACES:
        if value.startswith(namespace):
            return "gs1:" + value[len(namespace) :]
    if _TOKEN.fullmatch(value) and value not in {"all", "linkset"}:
        return "gs1:" + value
    return value


@dataclass(frozen=True)
class VerificationRequest:
    """A verification request: the product identifier as the requester read it, and who asks."""

    gtin: GTIN
    serial: Serial
    lot: Lot
    expiry: str  # YYMMDD, as printed on the pack
    requester_gln: GLN
    context: str | None = None
    correlation_id: str | None = None
    #: The requester's attestation that it has the product in its control or possession.
    possession_attested: bool | None = None


def _one(params: Mapping[str, str], names: Sequence[str], what: str) -> str | None:
    """The value a request gives for `what` under any of `names`; they must agree."""
    given = {params[name] for name in names if params.get(name)}
    if len(given) > 1:
        raise BadVerificationRequest(f"the request gives {what} twice, differently")
    return given.pop() if given else None


def read_request(path: Sequence[tuple[str, str]], params: Mapping[str, str]) -> VerificationRequest:
    """The verification request of a Digital Link path's AIs and the query's parameters.

    The forms clients send: `/01/{gtin}/10/{lot}/21/{serial}?exp={YYMMDD}` and
    `/01/{gtin}/21/{serial}?10={lot}&17={YYMMDD}`, with `linkType`, `context`, `reqGLN`,
    `corrUUID` and `ctrlPossessAtt`; the whole product identifier (GTIN, serial, lot, expiry)
    is required, since only all four together are verified."""
    ais = dict(path)
    if "01" not in ais or "21" not in ais:
        raise BadVerificationRequest("a verification request names a GTIN (01) and a serial (21)")
    lot = _one(params, ("10",), "the lot (10)")
    if "10" in ais:
        if lot not in (None, ais["10"]):
            raise BadVerificationRequest("the request gives the lot (10) in its path and query")
        lot = ais["10"]
    expiry = _one(params, ("17", "exp"), "the expiry date (17)")
    if lot is None or expiry is None:
        missing = " and ".join(
            w for w, v in (("lot (10)", lot), ("expiry (17/exp)", expiry)) if not v
        )
        raise BadVerificationRequest(f"a verification request gives the {missing}")
    try:
        validate("10", lot)
        validate("17", expiry)
        parse_expiry(expiry)
    except BadIdentifier as error:
        raise BadVerificationRequest(error.detail) from error
    requester = params.get("reqGLN")
    if not requester:
        raise BadVerificationRequest("a verification request names its requester: reqGLN")
    if not is_valid_gln(requester):
        raise BadVerificationRequest(f"reqGLN {requester!r} is not a 13-digit GLN")
    context = params.get("context") or None
    if context is not None and not _TOKEN.fullmatch(context):
        raise BadVerificationRequest(f"context {context!r} is not a context name")
    correlation = params.get("corrUUID") or None
    if correlation is not None and not _PRINTABLE.fullmatch(correlation):
        raise BadVerificationRequest("corrUUID is 1-100 printable ASCII characters (a UUID)")
    attested = params.get("ctrlPossessAtt")
    if attested not in (None, "true", "false"):
        raise BadVerificationRequest("ctrlPossessAtt is true or false")
    return VerificationRequest(
        gtin=GTIN(ais["01"]),
        serial=Serial(ais["21"]),
        lot=Lot(lot),
        expiry=expiry,
        requester_gln=GLN(requester),
        context=context,
        correlation_id=correlation,
        possession_attested=None if attested is None else attested == "true",
    )


@dataclass(frozen=True)
class Verification:
    """The answer's `data`: verified, or why not, and what else the responder tells."""

    verified: bool
    failure_reason: str | None = None
    additional_info: str | None = None

    def __post_init__(self) -> None:
        if self.failure_reason is not None and self.failure_reason not in FAILURE_REASONS:
            raise ValueError(f"not an LVM verificationFailureReason: {self.failure_reason}")
        if self.additional_info is not None and self.additional_info not in ADDITIONAL_INFO:
            raise ValueError(f"not an LVM additionalInfo code: {self.additional_info}")
        if self.verified == (self.failure_reason is not None):
            raise ValueError("a failure reason goes with verified: false, and only with it")

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"verified": self.verified}
        if self.failure_reason is not None:
            data["verificationFailureReason"] = self.failure_reason
        if self.additional_info is not None:
            data["additionalInfo"] = self.additional_info
        return data


def timestamp(at: datetime) -> str:
    """An LVM verificationTimestamp: UTC with milliseconds, as "2019-01-17T10:20:30.123Z"."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def response_body(
    result: Verification,
    *,
    at: datetime,
    responder_gln: str | None,
    correlation_id: str | None,
) -> dict[str, object]:
    """The LVM response; a responder without a configured GLN leaves `responderGLN` out (a
    made-up GLN would name some other company)."""
    body: dict[str, object] = {"verificationTimestamp": timestamp(at)}
    if responder_gln is not None:
        body["responderGLN"] = responder_gln
    if correlation_id is not None:
        body["corrUUID"] = correlation_id
    body["data"] = result.to_json()
    return body
