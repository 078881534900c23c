"""EPCIS 2.0 and CBV 2.0: documents, vocabularies, schema and the Event Hash ID (pure)."""
