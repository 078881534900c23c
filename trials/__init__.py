"""The clinical-trials plug-in: registration, protocols, data, consent (declared in `plugin`)."""
