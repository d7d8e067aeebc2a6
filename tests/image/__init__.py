"""The container image under test (python -m tests.image); not collected by pytest."""
