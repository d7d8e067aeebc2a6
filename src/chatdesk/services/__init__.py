"""Use cases: each function is one thing a user does; services own the transactions."""
