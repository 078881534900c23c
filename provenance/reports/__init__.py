"""Regulator integrity reports: pandas pipelines over one snapshot of the log's projection."""
