"""Proof bundles of a trial and of one data submission, under the rules of the trial's page."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, Response

from provenance.access.principal import Principal
from provenance.access.rules import Facts, Rule
from provenance.web.bundles_http import bundle_response
from trials.access import TRIAL_READERS
from trials.bundles import submission_trial

bp = Blueprint("trial_bundles", __name__)


@bp.get("/api/v1/bundles/trial/<trial_id>")
def trial_bundle(trial_id: str) -> Response:
    return bundle_response("trial", {"trial_id": trial_id})


@bp.get("/api/v1/bundles/submission/<int:index>")
def submission_bundle(index: int) -> Response:
    return bundle_response("submission", {"index": str(index)})


def _submission_reader(who: Principal, facts: Facts) -> bool:
    trial_id = submission_trial(facts.conn, facts.args.get("index"))
    if trial_id is None:
        return who.authenticated  # the route answers 404
    return TRIAL_READERS.allows(who, replace(facts, args={**facts.args, "trial_id": trial_id}))


#: A trial's bundle is for those who read its page; a submission's, for those of its trial.
ACCESS: dict[str, Rule] = {
    "trial_bundles.trial_bundle": TRIAL_READERS,
    "trial_bundles.submission_bundle": Rule(
        f"as the submission's trial: {TRIAL_READERS.name}", _submission_reader
    ),
}
