"""The Kubernetes files rendered once per session, and the checking tools of .venv-tools.

The tools (kubectl with kustomize, kubernetes-validate, checkov, hadolint, actionlint, shellcheck
and two expression parsers) live in their own environment, made by `make deploy-tools` from
deployments/requirements-check.txt; nothing here downloads anything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deployments" / "kubernetes"
DOCKER = ROOT / "deployments" / "docker"
WORKFLOWS = ROOT / ".github" / "workflows"
TOOLS = Path(os.environ.get("CHATDESK_TEST_DEPLOY_TOOLS", ROOT / ".venv-tools" / "bin"))
TOOLSIDE = Path(__file__).resolve().parent / "toolside.py"

#: Where each overlay takes the monitoring component, as docs/operations.md tells operators.
MONITORING_HOOKS = {
    "embedded": ("overlays/embedded/app/kustomization.yaml", "../../../components/monitoring"),
    "production": ("overlays/production/kustomization.yaml", "../../components/monitoring"),
}
VARIANTS = ["embedded", "production", "embedded+monitoring", "production+monitoring"]
#: Kinds whose objects have no namespace.
CLUSTER_SCOPED = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "Namespace"}
WORKLOADS = ("Deployment", "Job", "CronJob")


def tool(name: str) -> Path:
    """A tool of .venv-tools; skipped when it is missing, except in CI, where that fails."""
    path = TOOLS / name
    if not path.exists():
        message = f"{path} is missing: run `make deploy-tools`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the deployment checks: {message}")
        pytest.skip(message)
    return path


def run(*command: str | Path, cwd: Path = ROOT, stdin: str | None = None,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """A tool's run, with .venv-tools first on PATH (actionlint finds shellcheck there) and no
    cluster configuration in reach."""
    env = {**os.environ, "PATH": f"{TOOLS}{os.pathsep}{os.environ.get('PATH', '')}",
           "KUBECONFIG": os.devnull}
    return subprocess.run([str(part) for part in command], cwd=cwd, input=stdin, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def toolside(request: dict[str, Any]) -> Any:
    """Ask toolside.py, run by .venv-tools' Python (where the PromQL and CEL parsers are)."""
    result = run(tool("python"), TOOLSIDE, stdin=json.dumps(request))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@dataclass
class Rendered:
    """One overlay as `kubectl kustomize` renders it."""

    name: str
    path: Path  # the rendered YAML
    docs: list[dict[str, Any]]

    @property
    def overlay(self) -> str:
        return self.name.split("+")[0]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in self.docs if doc["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [doc for doc in self.of_kind(kind) if name is None or doc["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.name}: expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def pod_templates(self) -> list[tuple[str, dict[str, Any]]]:
        """(kind/name, pod template) of every workload."""
        templates = []
        for doc in self.docs:
            spec = doc.get("spec", {})
            if doc["kind"] in ("Deployment", "Job"):
                templates.append((f"{doc['kind']}/{doc['metadata']['name']}", spec["template"]))
            elif doc["kind"] == "CronJob":
                templates.append((f"CronJob/{doc['metadata']['name']}",
                                  spec["jobTemplate"]["spec"]["template"]))
        return templates

    def containers(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        """(where, pod spec, container) of every container and init container."""
        found = []
        for where, template in self.pod_templates():
            spec = template["spec"]
            for container in spec.get("initContainers", []) + spec["containers"]:
                found.append((f"{where}/{container['name']}", spec, container))
        return found


def _render(directory: Path, name: str, out: Path) -> Rendered:
    """`kubectl kustomize` of an overlay, kept in a file for the tools that read files."""
    result = run(tool("kubectl"), "kustomize", directory)
    assert result.returncode == 0, f"kubectl kustomize {directory}:\n{result.stderr}"
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert docs, f"{name} renders nothing"
    path = out / f"{name.replace('+', '-')}.yaml"
    path.write_text(result.stdout)
    return Rendered(name, path, docs)


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    """Every variant; those with monitoring are a copy of the files with the component added to
    the overlay the way docs/operations.md says."""
    variants: dict[str, Rendered] = {}
    out = tmp_path_factory.mktemp("rendered")
    for name in VARIANTS:
        overlay, _, component = name.partition("+")
        tree = KUBERNETES
        if component:
            tree = tmp_path_factory.mktemp(name.replace("+", "-")) / "kubernetes"
            shutil.copytree(KUBERNETES, tree)
            hook, path = MONITORING_HOOKS[overlay]
            with open(tree / hook, "a") as kustomization:
                kustomization.write(f"\ncomponents:\n  - {path}\n")
        variants[name] = _render(tree / "overlays" / overlay, name, out)
    return variants


@pytest.fixture(params=VARIANTS)
def variant(request: pytest.FixtureRequest, rendered: dict[str, Rendered]) -> Rendered:
    result: Rendered = rendered[request.param]
    return result


@pytest.fixture(scope="session")
def app_routes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, set[str]]]:
    """The app's URL rules and their methods, from the real application factory."""
    from chatdesk import create_app
    from tests.conftest import make_settings

    with pytest.MonkeyPatch.context() as patch:  # no operator setting leaks in
        for name in list(os.environ):
            if name.startswith("CHATDESK_") and not name.startswith("CHATDESK_TEST_"):
                patch.delenv(name)
        app = create_app(make_settings(tmp_path_factory.mktemp("routes")))
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        routes.setdefault(rule.rule, set()).update(rule.methods or ())
    yield routes
    with app.app_context():
        from chatdesk.extensions import db

        db.engine.dispose()
