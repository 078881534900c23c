"""Database storage of the log: tables, engine, append-only guards and the projection."""
