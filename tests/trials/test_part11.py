"""21 CFR Part 11 under rules 2: every trial statement is one registered person's signature,
and its printed name comes from the registry, never from the statement."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.parties import Authority, read, register_party, register_person, send
from tests.trials.test_trials import TRIAL, registration


def test_the_printed_name_is_the_registered_persons_and_nothing_else_signs(
    client: FlaskClient, authority: Authority
) -> None:
    sponsor = register_party(client, authority, "Sponsor", "5412345000051", ["sponsor"])
    register_party(client, authority, "Site 001", "5412345000068", ["site"])
    body = registration()
    # The party's own key is for machines: it does not sign a trial statement.
    problem = send(client, sponsor, "trial.register", body, status=403)
    assert "21 CFR 11.100" in problem["detail"]
    jane = register_person(client, sponsor, "NW-0042", "Dr. Jane Roe", "clinical data manager")
    # A typed printed name is refused, even the right one.
    typed = dict(body, signature={"printed_name": "Dr. Jane Roe", "meaning": "approval"})
    assert "registration" in send(client, jane, "trial.register", typed, status=422)["detail"]
    send(client, jane, "trial.register", body)
    history = read(client, jane, f"/api/v1/trials/{TRIAL}/history").get_json()["history"]
    assert [(e["printed_name"], e["meaning"]) for e in history] == [("Dr. Jane Roe", "approval")]
    # Suspended, her key signs nothing more.
    suspend = {"gln": sponsor.gln, "person": "NW-0042", "reason": "left the company"}
    send(client, sponsor, "person.suspend", suspend)
    lock = {"trial": TRIAL, "reason": "Database lock after the last visit", "signature":
            {"meaning": "approval"}}  # fmt: skip
    assert send(client, jane, "trial.lock", lock, status=403)["type"].endswith("revoked-key")
