"""The reply pipeline: pure decisions about one customer message, no Flask, no SQL."""
