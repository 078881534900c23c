"""Fixtures of the supply-chain tests."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.parties import Authority
from tests.supply.chain import Chain, make_chain


@pytest.fixture
def chain(client: FlaskClient, authority: Authority) -> Chain:
    return make_chain(client, authority)
