"""Who may see and write what: request signatures, sessions, principals, the route rules."""
