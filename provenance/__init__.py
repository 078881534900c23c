"""provenance: a tamper-evident transparency log for drug supply chains and trial data."""

__version__ = "0.1.0"
