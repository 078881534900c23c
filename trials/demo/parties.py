"""The demo trial's parties: a sponsor and a site, registered with keys made on this machine."""

from __future__ import annotations

from provenance.plugins import DemoParty

SPONSOR = DemoParty("sponsor", "Northwind Trials Sponsor", "5412345000051", ("sponsor",))
SITE = DemoParty("site001", "Riverside Clinical Site 001", "5412345000068", ("site",))
PARTIES = (SPONSOR, SITE)
