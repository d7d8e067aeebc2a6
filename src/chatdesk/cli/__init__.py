"""The ``chatdesk`` command. This module imports nothing heavy: ``chatdesk serve`` with gevent
workers must patch the standard library before anything else is imported."""

from __future__ import annotations

import sys


def _serves_with_gevent(arguments: list[str]) -> bool:
    if "serve" not in arguments or "--help" in arguments:
        return False
    rest = arguments[arguments.index("serve") + 1:]
    for i, argument in enumerate(rest):
        if argument.startswith("--worker-class="):
            return argument.split("=", 1)[1] == "gevent"
        if argument == "--worker-class" and i + 1 < len(rest):
            return rest[i + 1] == "gevent"
    return True  # gevent is the default worker class


def main() -> None:
    if _serves_with_gevent(sys.argv[1:]):
        from gevent import monkey

        monkey.patch_all()
    from chatdesk.cli.commands import run

    run()
