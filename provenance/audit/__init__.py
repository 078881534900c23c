"""Auditing a log from outside it: a monitor over its tiles, and offline proof bundles."""
