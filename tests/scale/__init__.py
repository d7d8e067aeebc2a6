"""The scale-out harness (``make scale-test``): three web instances behind nginx on loopback,
sharing a PostgreSQL and a Redis of its own, under customer load while instances are killed and
restarted, and PostgreSQL and Redis restart. Not collected by pytest: run it with
``.venv/bin/python -m tests.scale``."""
