"""Supply-chain HTTP: the GS1 Digital Link resolver, scan page, labels, EPCIS endpoints."""
