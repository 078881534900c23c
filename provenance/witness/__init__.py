"""A C2SP tlog-witness: it cosigns a log's checkpoints once they are consistent with its last."""
