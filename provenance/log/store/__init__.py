"""Storage of the log: engines, schema and guards, the one module of log SQL, the projection."""
