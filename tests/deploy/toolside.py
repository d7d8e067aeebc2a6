"""The deployment checks' helpers that need .venv-tools' parsers (not installed in .venv).

Run as `.venv-tools/bin/python toolside.py`: a JSON request on stdin, a JSON answer on stdout.
  {"promql": [expr, ...]}  -> for each expression, its selectors: [{"metric", "matchers": [...]}]
                              or {"error": message}
  {"cel": [{"expression", "variables"}, ...]} -> for each, {"value"} or {"error": message}
"""

from __future__ import annotations

import json
import sys
from typing import Any


def promql(expressions: list[str]) -> list[Any]:
    import promql_parser

    answers: list[Any] = []
    for text in expressions:
        try:
            expression = promql_parser.parse(text)
        except Exception as error:  # the parser's own message says where
            answers.append({"error": str(error)})
            continue
        selectors: list[dict[str, Any]] = []

        def visit(node: Any, found: list[dict[str, Any]] = selectors) -> None:
            if isinstance(node, promql_parser.VectorSelector):
                found.append({"metric": node.name, "matchers": [
                    {"label": m.name, "op": str(m.op).rsplit(".", 1)[-1], "value": m.value}
                    for m in node.matchers.matchers]})

        promql_parser.walk(expression, pre_visit=visit)
        answers.append(selectors)
    return answers


def cel(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import cel as celpy

    answers = []
    for case in cases:
        try:
            answers.append({"value": celpy.evaluate(case["expression"], case["variables"])})
        except Exception as error:
            answers.append({"error": str(error)})
    return answers


def main() -> None:
    request = json.load(sys.stdin)
    answer: dict[str, Any] = {}
    if "promql" in request:
        answer["promql"] = promql(request["promql"])
    if "cel" in request:
        answer["cel"] = cel(request["cel"])
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
