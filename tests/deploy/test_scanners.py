"""The rendered manifests against Kubernetes' schemas and checkov's policies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.deploy.conftest import VARIANTS, Rendered, run, tool

#: The oldest Kubernetes the files are for (ValidatingAdmissionPolicy v1 is 1.30), and the newest
#: kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.30", "1.37"]
#: Custom resources have no schema in kubernetes-validate: the monitoring component's
#: (tests/deploy/test_monitoring.py checks them).
NO_SCHEMA = ("kind ServiceMonitor with api version monitoring.coreos.com/v1",
             "kind PrometheusRule with api version monitoring.coreos.com/v1")


def test_every_overlay_renders(rendered: dict[str, Rendered]) -> None:
    assert set(rendered) == set(VARIANTS)
    for variant in rendered.values():
        kinds = {doc["kind"] for doc in variant.docs}
        assert {"Deployment", "Service", "Ingress", "CronJob", "NetworkPolicy", "ConfigMap",
                "ServiceAccount"} <= kinds, variant.name
        if "monitoring" in variant.name:
            assert {"ServiceMonitor", "PrometheusRule"} <= kinds


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_match_the_kubernetes_schemas(rendered: dict[str, Rendered], version: str) -> None:
    result = run(tool("kubernetes-validate"), "--strict", "--quiet", "--kubernetes-version", version,
                 *[variant.path for variant in rendered.values()])
    assert result.returncode == 0, result.stdout + result.stderr
    unvalidated = [line for line in result.stdout.splitlines()
                   if line.startswith("WARN") and not any(kind in line for kind in NO_SCHEMA)]
    assert not unvalidated, "objects that no schema checked:\n" + "\n".join(unvalidated)


def _checkov(*arguments: str | Any) -> list[dict[str, Any]]:
    result = run(tool("checkov"), "--skip-download", "--quiet", "--compact", "-o", "json", *arguments)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


def test_checkov_finds_nothing_in_the_manifests(rendered: dict[str, Rendered]) -> None:
    """Failed checks fail; a skipped one must say why, next to it (a checkov.io/skip annotation)."""
    files = [argument for variant in rendered.values() for argument in ("-f", variant.path)]
    reports = _checkov("--framework", "kubernetes", "secrets", *files)
    kubernetes = [report for report in reports if report.get("check_type") == "kubernetes"]
    assert kubernetes and kubernetes[0]["summary"]["passed"] > 100, "checkov ran no kubernetes check"
    for report in reports:
        results = report.get("results", {})
        failed = [f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}"
                  for check in results.get("failed_checks", [])]
        assert not failed, "\n".join(failed)
        for check in results.get("skipped_checks", []):
            reason = (check.get("check_result", {}).get("suppress_comment") or "").strip()
            assert len(reason) > 40, f"{check['check_id']} on {check['resource']} is skipped without a reason"
