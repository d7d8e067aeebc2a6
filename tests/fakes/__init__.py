"""Fakes of outside systems, for tests at the HTTP edge."""
