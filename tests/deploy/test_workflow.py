"""The GitHub Actions workflow: actionlint (with shellcheck on every `run:`), and what it must do."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import KUBERNETES, ROOT, WORKFLOWS, Rendered, run, tool

WORKFLOW = WORKFLOWS / "ci.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def _script(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in _steps(job))


def test_actionlint_finds_nothing() -> None:
    tool("shellcheck")  # actionlint checks each `run:` with it when it is on PATH
    result = run(tool("actionlint"), "-no-color", *sorted(WORKFLOWS.glob("*.y*ml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_push_and_pull_request_runs_the_ci_script(workflow: dict[Any, Any]) -> None:
    triggers: dict[str, Any] = workflow.get(True) or workflow["on"]  # YAML 1.1 reads `on` as True
    assert "pull_request" in triggers
    assert triggers["push"]["branches"] == ["**"] and triggers["push"]["tags"] == ["v*"]
    test = workflow["jobs"]["test"]
    assert "if" not in test
    assert any(step.get("run") == "bash .ci/run" for step in _steps(test))


def test_actions_are_pinned_by_commit(workflow: dict[Any, Any]) -> None:
    for name, job in workflow["jobs"].items():
        for step in _steps(job):
            if "uses" in step:
                assert PINNED.match(step["uses"]), f"{name}: {step['uses']} is not pinned by commit"


def test_a_version_tag_builds_pushes_and_deploys(workflow: dict[Any, Any]) -> None:
    jobs = workflow["jobs"]
    image, deploy = jobs["image"], jobs["deploy"]
    for job in (image, deploy):
        assert "refs/tags/v" in job["if"]
    assert image["needs"] == "test" and deploy["needs"] == "image"
    build = _script(image)
    assert "make wheelhouse" in build
    assert "-f deployments/docker/Dockerfile" in build and re.search(r"docker build .* \.$", build, re.M)
    assert "docker push" in build
    assert image["permissions"]["packages"] == "write"
    # Production is a protected environment, one deployment at a time, never cancelled halfway.
    assert deploy["environment"] == "production"
    assert deploy["concurrency"]["cancel-in-progress"] is False
    overlay = (KUBERNETES / "overlays" / "production").relative_to(ROOT)
    assert deploy["env"]["OVERLAY"] == str(overlay)


def test_the_deploy_migrates_first_then_rolls_out_and_back(workflow: dict[Any, Any]) -> None:
    script = _script(workflow["jobs"]["deploy"])
    order = ["kubectl kustomize", "--selector 'app.kubernetes.io/component!=web'", "--for=condition=Complete",
             "kubectl apply -k", "rollout status deployment/web --timeout=", "rollout undo deployment/web"]
    positions = [script.find(fragment) for fragment in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions), "migrate Job, then the rollout, then the undo on failure"


def test_the_first_apply_is_the_migrate_job_and_what_it_needs(rendered: dict[str, Rendered]) -> None:
    """The deploy applies everything but the web objects (by their component label) before the
    migrate Job has finished; so the label must be on every web object and on nothing the Job needs."""
    docs = rendered["production"].docs
    web = {f"{d['kind']}/{d['metadata']['name']}" for d in docs
           if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "web"}
    assert {"Deployment/web", "Service/web", "Ingress/web", "HorizontalPodAutoscaler/web",
            "PodDisruptionBudget/web"} <= web
    first = {f"{d['kind']}/{d['metadata']['name']}" for d in docs} - web
    job = next(d for d in docs if d["kind"] == "Job")
    spec = job["spec"]["template"]["spec"]
    needs = {f"ServiceAccount/{spec['serviceAccountName']}", f"Job/{job['metadata']['name']}",
             "NetworkPolicy/migrate", "NetworkPolicy/default-deny"}
    needs |= {f"ConfigMap/{s['configMapRef']['name']}" for c in spec["containers"]
              for s in c.get("envFrom", []) if "configMapRef" in s}
    assert needs <= first, needs - first
