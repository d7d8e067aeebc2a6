"""The Dockerfile (the lead's) linted and scanned, and held to what the manifests expect of the
image: its user, its port, its entrypoint and roles."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.deploy.conftest import DOCKER, ROOT, Rendered, run, tool

DOCKERFILE = DOCKER / "Dockerfile"
ENTRYPOINT = DOCKER / "entrypoint.sh"
CHECKOV_CONFIG = ROOT / "deployments" / "checkov-dockerfile.yaml"


@pytest.fixture(scope="module")
def dockerfile() -> str:
    if not DOCKERFILE.exists():
        message = f"{DOCKERFILE.relative_to(ROOT)} is not written yet"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return DOCKERFILE.read_text()


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines()
                                            if not line.lstrip().startswith("#")))
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _final_stage(text: str) -> list[tuple[str, str]]:
    instructions = _instructions(text)
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def test_hadolint_finds_nothing(dockerfile: str) -> None:
    result = run(tool("hadolint"), "--no-color", DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_finds_nothing_in_the_dockerfile(dockerfile: str) -> None:
    result = run(tool("checkov"), "--config-file", CHECKOV_CONFIG, "--quiet", "-o", "json", "-f", DOCKERFILE)
    assert result.returncode in (0, 1), result.stderr
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    checked = [r for r in reports if r.get("check_type") == "dockerfile"]
    assert checked and checked[0]["summary"]["passed"] > 20, "checkov ran no Dockerfile check"
    failed = [f"{c['check_id']}: {c['check_name']} (line {c['file_line_range']})"
              for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    assert not failed, "\n".join(failed)


def test_every_base_image_is_pinned(dockerfile: str) -> None:
    """What CKV_DOCKER_7 would check if checkov could read `FROM ${BASE}` (its skip's reason)."""
    defaults: dict[str, str] = {}
    stages: set[str] = set()
    for word, rest in _instructions(dockerfile):
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            defaults.setdefault(name.strip(), value.strip().strip('"'))
        if word == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), parts[0])
            if image not in stages:
                assert "$" not in image, f"FROM {parts[0]}: an ARG without a default"
                last_part = image.split("@")[0].rpartition("/")[2]  # a registry may have a port
                tag = last_part.rpartition(":")[2] if ":" in last_part else ""
                assert "@sha256:" in image or (tag and tag != "latest"), f"FROM {image} is not pinned"
            if len(parts) == 3 and parts[1].upper() == "AS":
                stages.add(parts[2])


def test_the_image_runs_as_the_user_the_pods_expect(dockerfile: str, rendered: dict[str, Rendered]) -> None:
    users = [rest for word, rest in _final_stage(dockerfile) if word == "USER"]
    assert users, "the final stage has no USER: it would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit(), "runAsNonRoot needs a numeric user to check"
    for variant in rendered.values():
        for where, spec, container in variant.containers():
            security = {**spec.get("securityContext", {}), **container.get("securityContext", {})}
            assert security["runAsUser"] == int(uid), where
            if gid:
                assert security["runAsGroup"] == int(gid), where


def test_the_entrypoint_is_the_roles_script(dockerfile: str, rendered: dict[str, Rendered]) -> None:
    final = dict(_final_stage(dockerfile))
    assert json.loads(final["ENTRYPOINT"]) == ["/usr/local/bin/chatdesk-entrypoint"], "exec form"
    assert json.loads(final["CMD"]) == ["web"]
    copies = [rest for word, rest in _final_stage(dockerfile) if word == "COPY"]
    assert any(rest.split()[-2:] == ["deployments/docker/entrypoint.sh", "/usr/local/bin/chatdesk-entrypoint"]
               for rest in copies)
    exposed = {int(port.split("/")[0]) for word, rest in _final_stage(dockerfile) if word == "EXPOSE"
               for port in rest.split()}
    roles = set(re.findall(r"^\s*(\w+)\)", ENTRYPOINT.read_text(), flags=re.MULTILINE))
    for variant in rendered.values():
        port = int(variant.one("ConfigMap", "chatdesk-settings")["data"]["CHATDESK_PORT"])
        assert port in exposed
        for where, _, container in variant.containers():
            assert "command" not in container, f"{where} would bypass the entrypoint"
            role = container["args"][0]
            assert role in roles, f"{where}: the entrypoint has no role {role}"


def test_the_entrypoint_passes_shellcheck() -> None:
    result = run(tool("shellcheck"), ENTRYPOINT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_writes_only_where_the_pods_mount_volumes(dockerfile: str,
                                                            rendered: dict[str, Rendered]) -> None:
    env = " ".join(rest for word, rest in _final_stage(dockerfile) if word == "ENV")
    instance = re.search(r"CHATDESK_INSTANCE_PATH=(\S+)", env)
    assert instance, "the image sets no instance folder"
    for variant in rendered.values():
        settings = variant.one("ConfigMap", "chatdesk-settings")["data"]
        assert settings["CHATDESK_INSTANCE_PATH"] == instance.group(1)
    for variable in ("PROMETHEUS_MULTIPROC_DIR", "HOME", "MPLCONFIGDIR"):
        found = re.search(rf"\b{variable}=(\S+)", env)
        if found:
            path = Path(found.group(1))
            assert path.is_relative_to("/tmp") or path.is_relative_to(instance.group(1)), \
                f"{variable}={path} is on the read-only root filesystem"


def test_every_role_the_pods_use_runs_a_command_the_package_installs(rendered: dict[str, Rendered]) -> None:
    """Each role of entrypoint.sh that a pod asks for execs one of chatdesk's console scripts."""
    import tomllib

    scripts = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])
    arms = dict(re.findall(r"^\s*(\w+)\)\s*\n(?:\s*#.*\n)*\s*exec\s+(\S+)", ENTRYPOINT.read_text(),
                           flags=re.MULTILINE))
    used = {container["args"][0] for variant in rendered.values() for _, _, container in variant.containers()}
    for role in sorted(used):
        assert role in arms, f"entrypoint.sh has no role {role}"
        assert arms[role] in scripts, f"role {role} runs {arms[role]}, which pyproject.toml does not install"
