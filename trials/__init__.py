"""Clinical-trial registration, protocol commitments and data submissions (built on the log)."""
