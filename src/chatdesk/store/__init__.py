"""Persistence: SQLAlchemy 2.0 models and the queries the services use."""
