"""GS1 standards: keys and check digits, AIs, Digital Link, EPC URIs, scanner input, QR."""
