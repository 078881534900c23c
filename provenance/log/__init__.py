"""The transparency log: domain-free; its personalities are passed in, never imported."""
