"""The thin HTTP layer: the core's blueprints over the log, and errors as problem+json."""
