"""The demo trial, built from the synthetic clindata study: sites, protocol v1 and v2, enrolment,
consent, DM/AE/SV datasets with one amendment, and a results report."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import pandas as pd

from provenance.log.service import Service
from provenance.log.signing import key_id, public_key_der
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView
from provenance.plugins import DemoRun
from trials.dataset_files import parse_dataset
from trials.datasets import content_hash
from trials.demo import clindata
from trials.demo.parties import SITE, SPONSOR
from trials.payloads import commitment, content_commitment, store_payload
from trials.tables import TRIAL_KEYS

TRIAL_ID = "NCT99000001"
#: The clindata site the demo site party acts for: the first site the study lists.
SITE_OF_PARTY = "3"
#: Demo only: a real sponsor keeps its pseudonym key secret and off the server.
PSEUDONYM_KEY = hashlib.sha256(b"provenance demo pseudonym key").digest()
#: The sponsor's people who sign the trial (21 CFR 11.100), each with a key of their own:
#: (demo key slug, the sponsor's id for them, printed name, role).
DATA_MANAGER = ("sponsor-jroe", "NW-0042", "Dr. Jane Roe", "clinical data manager")
MEDICAL_DIRECTOR = ("sponsor-jdoe", "NW-0007", "Dr. John Doe", "medical director")
SIGNER = {"meaning": "responsibility"}
APPROVER = {"meaning": "approval"}
OUTCOMES_V1 = [
    {
        "id": "O1",
        "title": "Time to first serious adverse event",
        "type": "primary",
        "time_frame": "12 months",
    },
    {
        "id": "O2",
        "title": "Rate of adverse events of grade 3 or higher",
        "type": "secondary",
        "time_frame": "12 months",
    },
    {
        "id": "O3",
        "title": "Completion of study treatment",
        "type": "secondary",
        "time_frame": "24 months",
    },
]
V2_REASON = (
    "After the interim safety review the data monitoring committee asked that the rate of "
    "grade 3+ adverse events be a primary outcome; no data had been unblinded."
)
AE_REASON = (
    "Toxicity grades of three events corrected after source data verification at site 10; "
    "query numbers Q-1041 to Q-1043."
)


def _salt(name: str) -> bytes:
    return hashlib.sha256(f"provenance demo salt {name}".encode()).digest()


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode()


def _pseudo(subject: str) -> str:
    return clindata.pseudonym(subject, PSEUDONYM_KEY)


def _frames() -> dict[str, pd.DataFrame]:
    """DM, AE and SV extracts with pseudonymous subjects and no birth dates or initials."""
    out = {domain: clindata.load_extract(domain) for domain in clindata.EXTRACTS}
    for frame in out.values():
        frame["SUBJECT"] = frame["SUBJECT"].map(_pseudo)
    return out


def statements(service: Service) -> list[tuple[str, dict[str, Any]]]:
    """(kind, body) of the whole demo trial, storing its payloads off-log as it goes."""
    study, sites = clindata.load_study(), clindata.load_sites()
    enrolment, consent = clindata.load_enrolment(), clindata.load_consent()
    out: list[tuple[str, dict[str, Any]]] = [
        (
            "trial.register",
            {
                "trial": TRIAL_ID,
                "title": f"Synthetic phase 3 study {study.study_id} (clindata)",
                "phase": study.phase.removeprefix("P"),
                "planned_enrolment": study.planned_subjects,
                "primary_completion": "2016-12-31",
                "signature": APPROVER,
                "sites": [
                    {
                        "site": r.site,
                        "name": f"Site {r.site} ({r.country})",
                        **({"activated": r.activated} if r.activated else {}),
                        **({"gln": SITE.gln} if r.site == SITE_OF_PARTY else {}),
                    }
                    for r in sites.itertuples()
                ],
            },
        )
    ]
    for version, outcomes, reason in ((1, OUTCOMES_V1, None), (2, None, V2_REASON)):
        document = f"Protocol {study.study_id} version {version}\n".encode() * 40
        salt = _salt(f"protocol-{version}")
        store_payload(service.engine, document, salt, "text/plain", party=SPONSOR.gln)
        if outcomes is None:
            outcomes = [dict(o, type="primary") if o["id"] == "O2" else o for o in OUTCOMES_V1]
        body = {
            "trial": TRIAL_ID,
            "version": version,
            "payload": commitment(salt, document),
            "document": hashlib.sha256(document).hexdigest(),
            "outcomes": outcomes,
            "reconsent": False,
            "signature": APPROVER,
        }
        if reason:
            body["reason"] = reason
        out.append(("protocol.commit", body))
        if version == 1:
            for row in enrolment.itertuples():
                out.append(
                    (
                        "subject.enrol",
                        {
                            "trial": TRIAL_ID,
                            "subject": _pseudo(str(row.subject)),
                            "site": row.site,
                            "enrolled": row.enrolled,
                            "signature": SIGNER,
                        },
                    )
                )
            site_of = dict(zip(enrolment["subject"], enrolment["site"], strict=True))
            for row in consent.itertuples():
                out.append(
                    (
                        "consent.record",
                        {
                            "trial": TRIAL_ID,
                            "subject": _pseudo(str(row.subject)),
                            "site": site_of[row.subject],
                            "consented": row.consented,
                            "protocol_version": 1,
                            "signature": SIGNER,
                        },
                    )
                )
    frames = _frames()
    amended = frames["AE"].copy()
    amended.loc[amended.index[:3], "AETOXGR"] = "2"
    for name, frame, extra in (
        ("DM", frames["DM"], None),
        ("AE", frames["AE"], None),
        ("SV", frames["SV"], None),
        ("AE", amended, AE_REASON),
    ):
        data = _csv(frame)
        salt = _salt(f"{name}-{bool(extra)}")
        store_payload(service.engine, data, salt, "text/csv", party=SPONSOR.gln)
        parsed = parse_dataset(data, "csv")
        body = {
            "trial": TRIAL_ID,
            "dataset": name,
            "domain": name,
            "format": "csv",
            "payload": commitment(salt, data),
            "content_commitment": content_commitment(salt, content_hash(parsed)),
            "rows": parsed.row_count,
            "columns": parsed.column_count,
            "signature": SIGNER,
        }
        if extra:
            body.update(supersedes=1, reason=extra)
        out.append(("dataset.amend" if extra else "dataset.submit", body))
    results = {"trial": TRIAL_ID, "outcomes": _results(amended), "signature": APPROVER}
    out.append(("results.report", results))
    return out


def _results(ae: pd.DataFrame) -> list[dict[str, str]]:
    """Results against protocol v1 that show each COMPare category once: O1 as pre-specified,
    O2 promoted to primary (disclosed by v2) but also moved to 24 months (disclosed nowhere),
    O3 left out, and O4 never pre-specified."""
    serious = ae.loc[ae["AESER"] == "Y", "SUBJECT"].nunique()
    severe = ae.loc[ae["AETOXGR"].isin(["SEVERE", "out of bound:Life-Threatening"]), "SUBJECT"]
    per_subject = len(ae) / ae["SUBJECT"].nunique()
    return [
        {
            "id": "O1",
            "summary": f"{serious} subjects had at least one serious adverse event",
            "type": "primary",
            "time_frame": "12 months",
        },
        {
            "id": "O2",
            "summary": f"{severe.nunique()} subjects had an adverse event of grade 3 or higher",
            "type": "primary",
            "time_frame": "24 months",
        },
        {
            "id": "O4",
            "summary": f"{per_subject:.1f} adverse events per subject with any adverse event",
            "type": "secondary",
            "time_frame": "24 months",
        },
    ]


def tell(run: DemoRun) -> str:
    """Append the demo trial once (signed by the demo sponsor); a one-line summary."""
    with read_connection(run.service.engine) as conn:
        if DbView(conn, TRIAL_KEYS).row("trial", (TRIAL_ID,)) is not None:
            return f"demo trial {TRIAL_ID} already present"
    with read_connection(run.service.engine) as conn:
        view = DbView(conn)
        people = [
            p
            for p in (DATA_MANAGER, MEDICAL_DIRECTOR)
            if view.person_of(_key_id(run, p[0])) is None
        ]
    run.submit(
        [
            run.sign(
                SPONSOR.slug,
                "person.register",
                {
                    "gln": SPONSOR.gln,
                    "person": person,
                    "name": name,
                    "role": role,
                    "public_key": base64.b64encode(public_key_der(run.key(slug))).decode(),
                },
            )  # fmt: skip
            for slug, person, name, role in people
        ]
    )
    items = [run.sign(_signer(body), kind, body) for kind, body in statements(run.service)]
    run.submit(items)
    return f"demo trial {TRIAL_ID}: {len(items)} statements signed by the sponsor's people"


def _key_id(run: DemoRun, slug: str) -> str:
    return key_id(public_key_der(run.key(slug)))


def _signer(body: dict[str, Any]) -> str:
    """The sponsor's person who signs a statement: approvals the medical director, the rest
    the data manager."""
    meaning = body.get("signature", {}).get("meaning")
    return MEDICAL_DIRECTOR[0] if meaning == "approval" else DATA_MANAGER[0]
