"""What must hold in every rendered overlay: probes on real routes, selectors that select,
no secret in the files, one SQLite pod, streams that pass proxies, a locked-down pod, one image."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CLUSTER_SCOPED, KUBERNETES, ROOT, Rendered, toolside

UID = 10001
SECRET_NAME = "chatdesk-secrets"
# Setting names that hold a secret, or a URL that may carry a password.
SECRET_SETTING = re.compile(r"(SECRET|PASSWORD|TOKEN|API_KEY|_KEY$|DATABASE_URL|REDIS_URL|TRACKING_URI)")
CREDENTIALS_IN_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
ROLES = {"web": "web", "migrate": "migrate", "train": "train"}


def _gunicorn_graceful_timeout() -> int:
    source = (ROOT / "src" / "chatdesk" / "cli" / "serve.py").read_text()
    found = re.search(r'"graceful_timeout":\s*(\d+)', source)
    assert found, "chatdesk serve sets no graceful_timeout"
    return int(found.group(1))


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against labels."""
    if not selector:
        return True
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _web(variant: Rendered) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    deployment = variant.one("Deployment", "web")
    template = deployment["spec"]["template"]
    container = next(c for c in template["spec"]["containers"] if c["name"] == "web")
    return deployment, template, container


def _settings(variant: Rendered) -> dict[str, str]:
    data: dict[str, str] = variant.one("ConfigMap", "chatdesk-settings")["data"]
    return data


def _port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    numbers = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    assert numbers, f"no container port named {port!r}"
    return int(numbers[0])


# --- probes and ports --------------------------------------------------------------------------


def test_probes_check_real_routes_on_the_web_port(variant: Rendered, app_routes: dict[str, set[str]]) -> None:
    _, _, container = _web(variant)
    port = int(_settings(variant)["CHATDESK_PORT"])
    assert [p["containerPort"] for p in container["ports"]] == [port], \
        "the container port is the one gunicorn binds (CHATDESK_PORT)"
    expected = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe, path in expected.items():
        check = container[probe]["httpGet"]
        assert check["path"] == path, f"{probe} checks {check['path']}"
        assert "GET" in app_routes.get(check["path"], set()), f"{check['path']} is no GET route of the app"
        assert _port_number(container, check["port"]) == port
    # The startup probe gives the first load (embedder, index) time; liveness stays quick.
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120


def test_the_service_and_ingress_reach_the_web_port(variant: Rendered) -> None:
    _, template, container = _web(variant)
    service = variant.one("Service", "web")
    assert _selects({"matchLabels": service["spec"]["selector"]}, template["metadata"]["labels"])
    for where, other in variant.pod_templates():
        if not where.startswith("Deployment/"):
            assert not _selects({"matchLabels": service["spec"]["selector"]}, other["metadata"]["labels"]), \
                f"the Service would send customers to {where}"
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    for port in ports.values():
        _port_number(container, port["targetPort"])
    ingress = variant.one("Ingress", "web")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "web" and backend["port"]["name"] in ports


def test_the_metrics_page_is_a_real_route(app_routes: dict[str, set[str]]) -> None:
    for monitor in yaml.safe_load_all((KUBERNETES / "components/monitoring/servicemonitor.yaml").read_text()):
        for endpoint in monitor["spec"]["endpoints"]:
            assert "GET" in app_routes.get(endpoint["path"], set())


def test_a_stopping_pod_drains_its_requests(variant: Rendered) -> None:
    """preStop sleep, then gunicorn's graceful timeout, both inside the grace period."""
    _, template, container = _web(variant)
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "/bin/sleep", "the image has /bin/sleep and no shell is needed"
    grace = template["spec"]["terminationGracePeriodSeconds"]
    assert int(command[1]) + _gunicorn_graceful_timeout() < grace


# --- selectors ---------------------------------------------------------------------------------


def test_the_deployment_selects_its_own_pods(variant: Rendered) -> None:
    deployment, template, _ = _web(variant)
    assert _selects(deployment["spec"]["selector"], template["metadata"]["labels"])


@pytest.mark.parametrize("overlay", ["production"])
def test_autoscaler_and_disruption_budget_select_the_web_pods(rendered: dict[str, Rendered],
                                                             overlay: str) -> None:
    variant = rendered[overlay]
    deployment, template, container = _web(variant)
    hpa = variant.one("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == ("apps/v1", "Deployment", "web")
    assert hpa["spec"]["minReplicas"] >= 2
    assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}
    # Utilisation is measured against requests.
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    # The autoscaler owns the count: a number in the Deployment would reset it on every apply.
    assert "replicas" not in deployment["spec"] or deployment["spec"]["replicas"] >= 2
    pdb = variant.one("PodDisruptionBudget")
    assert _selects(pdb["spec"]["selector"], template["metadata"]["labels"])
    assert pdb["spec"].get("maxUnavailable", 0) <= hpa["spec"]["minReplicas"] - 1


def test_network_policies_deny_by_default_and_cover_every_pod(variant: Rendered) -> None:
    policies = variant.of_kind("NetworkPolicy")
    assert any(p["spec"]["podSelector"] == {} and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
               and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in policies)
    for where, template in variant.pod_templates():
        mine = [p for p in policies if p["spec"]["podSelector"]
                and _selects(p["spec"]["podSelector"], template["metadata"]["labels"])]
        assert mine, f"no NetworkPolicy of its own for {where}"
        ports = {(port["port"], port.get("protocol", "TCP"))
                 for p in mine for rule in p["spec"].get("egress", []) for port in rule.get("ports", [])}
        assert (53, "UDP") in ports, f"{where} cannot resolve names"
        if variant.overlay == "production":
            assert (5432, "TCP") in ports, f"{where} cannot reach PostgreSQL"
    _, web, _ = _web(variant)
    web_policies = [p for p in policies if p["spec"]["podSelector"]
                    and _selects(p["spec"]["podSelector"], web["metadata"]["labels"])]
    egress = {port["port"] for p in web_policies for rule in p["spec"].get("egress", [])
              for port in rule.get("ports", [])}
    assert 443 in egress, "the web pods cannot reach an LLM endpoint"
    if variant.overlay == "production":
        assert 6379 in egress, "the web pods cannot reach Redis"
    ingress_ports = {port["port"] for p in web_policies for rule in p["spec"].get("ingress", [])
                     for port in rule.get("ports", [])}
    assert "http" in ingress_ports, "nothing may reach the web port"


# --- secrets -----------------------------------------------------------------------------------


def test_no_secret_value_is_in_the_files(variant: Rendered) -> None:
    assert not variant.of_kind("Secret"), "Secrets are the operator's, created by name (docs/operations.md)"
    for kustomization in KUBERNETES.rglob("kustomization.yaml"):
        text = yaml.safe_load(kustomization.read_text())
        assert "secretGenerator" not in text, kustomization
    for config in variant.of_kind("ConfigMap"):
        for key, value in config.get("data", {}).items():
            assert not SECRET_SETTING.search(key), f"{key} belongs in the Secret, not in a ConfigMap"
            assert not CREDENTIALS_IN_URL.search(value), f"{key} has credentials in it"
    text = yaml.safe_dump_all(variant.docs)
    assert not CREDENTIALS_IN_URL.search(text)


def test_secret_settings_come_from_the_operators_secret(variant: Rendered) -> None:
    for where, _, container in variant.containers():
        env = {item["name"]: item for item in container.get("env", [])}
        assert "CHATDESK_SECRET_KEY" in env, f"{where}: production refuses to start without it"
        for name, item in env.items():
            if SECRET_SETTING.search(name):
                assert "value" not in item, f"{where}: {name} has a literal value"
                assert item["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME, f"{where}: {name}"
        for source in container.get("envFrom", []):
            assert "secretRef" not in source or source["secretRef"]["name"] == SECRET_NAME


def test_every_referenced_object_is_there(variant: Rendered) -> None:
    config_maps = {c["metadata"]["name"] for c in variant.of_kind("ConfigMap")}
    claims = {c["metadata"]["name"] for c in variant.of_kind("PersistentVolumeClaim")}
    accounts = {a["metadata"]["name"] for a in variant.of_kind("ServiceAccount")}
    for where, template in variant.pod_templates():
        spec = template["spec"]
        assert spec["serviceAccountName"] in accounts, where
        for volume in spec.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, where
        for container in spec.get("initContainers", []) + spec["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps, where


# --- one SQLite pod ----------------------------------------------------------------------------


def test_the_embedded_overlay_runs_one_pod_on_its_volume(rendered: dict[str, Rendered]) -> None:
    variant = rendered["embedded"]
    deployment, template, container = _web(variant)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not variant.of_kind("HorizontalPodAutoscaler")
    assert not any(item["name"] == "CHATDESK_DATABASE_URL" for item in container.get("env", [])), \
        "embedded means SQLite in the instance folder"
    claim = variant.one("PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    instance = _settings(variant)["CHATDESK_INSTANCE_PATH"]
    volume = next(m["name"] for m in container["volumeMounts"] if m["mountPath"] == instance)
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    assert volumes[volume]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    # The schema is brought up to date in the pod before gunicorn starts: the only pod.
    assert [c["args"] for c in template["spec"]["initContainers"]] == [["migrate"]]
    assert not variant.of_kind("Job")


def _admission(variant: Rendered) -> tuple[dict[str, Any], dict[str, Any]]:
    policy = variant.one("ValidatingAdmissionPolicy")
    binding = variant.one("ValidatingAdmissionPolicyBinding")
    return policy, binding


def test_the_embedded_overlay_refuses_a_second_pod(rendered: dict[str, Rendered]) -> None:
    """The admission policy guards this Deployment, in this namespace, and its expressions deny
    what would put two pods on one SQLite file."""
    variant = rendered["embedded"]
    deployment, _, _ = _web(variant)
    policy, binding = _admission(variant)
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert policy["spec"]["failurePolicy"] == "Fail"
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rule["resourceNames"] == [deployment["metadata"]["name"]]
    assert set(rule["resources"]) == {"deployments", "deployments/scale"}
    assert {"CREATE", "UPDATE"} <= set(rule["operations"])
    namespaces = binding["spec"]["matchResources"]["namespaceSelector"]
    assert _selects(namespaces, {"kubernetes.io/metadata.name": deployment["metadata"]["namespace"]})
    assert not _selects(namespaces, {"kubernetes.io/metadata.name": "someone-else"})

    def deployment_request(replicas: int, strategy: str) -> dict[str, Any]:
        return {"object": {"spec": {"replicas": replicas, "strategy": {"type": strategy}}},
                "request": {"subResource": ""}}

    def scale_request(replicas: int) -> dict[str, Any]:
        return {"object": {"spec": {"replicas": replicas}}, "request": {"subResource": "scale"}}

    cases = {
        "the overlay as it is": (deployment_request(1, "Recreate"), True),
        "two replicas": (deployment_request(2, "Recreate"), False),
        "a rolling update": (deployment_request(1, "RollingUpdate"), False),
        "kubectl scale to 2": (scale_request(2), False),
        "kubectl scale to 1": (scale_request(1), True),
        "kubectl scale to 0": (scale_request(0), True),
    }
    expressions = [v["expression"] for v in policy["spec"]["validations"]]
    answers = toolside({"cel": [{"expression": e, "variables": variables}
                                for variables, _ in cases.values() for e in expressions]})["cel"]
    for i, (case, (_, allowed)) in enumerate(cases.items()):
        results = answers[i * len(expressions):(i + 1) * len(expressions)]
        assert all("value" in r for r in results), f"{case}: {results}"
        assert all(r["value"] for r in results) == allowed, f"{case}: {results}"


def test_cluster_wide_objects_have_no_namespace_and_the_rest_one(variant: Rendered) -> None:
    namespaces = set()
    for doc in variant.docs:
        if doc["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in doc["metadata"], f"{doc['kind']} {doc['metadata']['name']}"
        else:
            namespaces.add(doc["metadata"].get("namespace"))
    assert len(namespaces) == 1 and None not in namespaces, namespaces


# --- the proxy and event streams ---------------------------------------------------------------


def test_event_streams_pass_the_ingress_unbuffered(variant: Rendered) -> None:
    annotations = variant.one("Ingress", "web")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    heartbeat = 15  # CHATDESK_SSE_HEARTBEAT's default: a quiet stream sends this often
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[f"nginx.ingress.kubernetes.io/{timeout}"]) >= 60 * heartbeat


def _ingress_matches(paths: list[dict[str, Any]], url: str) -> bool:
    for path in paths:
        prefix = path["path"]
        if path["pathType"] == "Exact" and url == prefix:
            return True
        if path["pathType"] == "Prefix" and (url == prefix or url.startswith(prefix.rstrip("/") + "/")):
            return True
    return False


def test_the_ingress_routes_every_public_route_and_no_operations_one(
        variant: Rendered, app_routes: dict[str, set[str]]) -> None:
    paths = [p for rule in variant.one("Ingress", "web")["spec"]["rules"] for p in rule["http"]["paths"]]
    operations = {"/metrics", "/healthz", "/readyz"}
    for route in app_routes:
        url = re.sub(r"<(?:[^:>]+:)?[^>]+>", "x", route)
        if route in operations:
            assert not _ingress_matches(paths, url), f"{route} is for the cluster only, not the internet"
        else:
            assert _ingress_matches(paths, url), f"{route} is not routed by the Ingress"
    for url in ("/api/v1/conversations/x/events", "/api/v1/inbox/events"):
        assert _ingress_matches(paths, url)


# --- the pods ----------------------------------------------------------------------------------


def test_every_container_runs_locked_down_as_the_images_user(variant: Rendered) -> None:
    instance = _settings(variant)["CHATDESK_INSTANCE_PATH"]
    for where, spec, container in variant.containers():
        pod = spec.get("securityContext", {})
        own = container.get("securityContext", {})
        assert spec["automountServiceAccountToken"] is False, where
        assert spec.get("enableServiceLinks") is False, f"{where}: service links could set CHATDESK_PORT"
        assert pod.get("runAsNonRoot") and own.get("runAsNonRoot"), where
        assert pod.get("runAsUser") == own.get("runAsUser") == UID, where
        assert own.get("readOnlyRootFilesystem") is True, where
        assert own.get("allowPrivilegeEscalation") is False, where
        assert own.get("capabilities", {}).get("drop") == ["ALL"], where
        assert not own.get("capabilities", {}).get("add"), where
        assert (own.get("seccompProfile") or pod.get("seccompProfile")) == {"type": "RuntimeDefault"}, where
        assert container["imagePullPolicy"] == "IfNotPresent", where
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
        assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
        # The only writable places: /tmp and the instance folder, both volumes.
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/tmp", instance} <= mounts, where
    for account in variant.of_kind("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


def test_one_image_and_the_right_role_for_each_pod(variant: Rendered) -> None:
    images = {container["image"] for _, _, container in variant.containers()}
    assert len(images) == 1, images
    (image,) = images
    name, _, tag = image.rpartition(":")
    assert name and tag and tag != "latest" and "/" not in tag, image
    for where, _, container in variant.containers():
        role = container["args"][0]
        assert role in ROLES, f"{where}: {role} is no role of the image"
    for where, template in variant.pod_templates():
        component = template["metadata"]["labels"]["app.kubernetes.io/component"]
        assert template["spec"]["containers"][0]["args"] == [ROLES[component]], where


def test_the_migrate_job_runs_once_per_release(rendered: dict[str, Rendered]) -> None:
    variant = rendered["production"]
    (job,) = variant.of_kind("Job")
    image = job["spec"]["template"]["spec"]["containers"][0]["image"]
    tag = image.rpartition(":")[2]
    assert job["metadata"]["name"] == f"migrate-{tag}", "a new release is a new Job"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?", job["metadata"]["name"])
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] <= 5 and job["spec"]["activeDeadlineSeconds"] <= 3600
    kustomization = yaml.safe_load((KUBERNETES / "overlays/production/kustomization.yaml").read_text())
    (pinned,) = [i for i in kustomization["images"] if i["name"] == "chatdesk"]
    assert pinned["newTag"] == tag


def test_training_runs_weekly_alone_and_is_watched(variant: Rendered) -> None:
    cronjob = variant.one("CronJob", "train")
    spec = cronjob["spec"]
    minute, hour, day, month, weekday = spec["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and (day, month) == ("*", "*") and weekday.isdigit()
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    assert 0 < job["activeDeadlineSeconds"] <= 24 * 3600 and job["backoffLimit"] <= 3
    container = job["template"]["spec"]["containers"][0]
    sources = {s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s}
    training = variant.one("ConfigMap", "chatdesk-training")
    assert training["metadata"]["name"] in sources
    assert {"CHATDESK_TRAIN_DATA", "CHATDESK_TRAIN_EVAL", "CHATDESK_TRAIN_MIN_GAIN"} <= set(training["data"])
    if variant.overlay == "embedded":
        # Beside the web pod, on the node that holds the ReadWriteOnce volume.
        affinity = job["template"]["spec"]["affinity"]["podAffinity"]
        (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]
        _, web, _ = _web(variant)
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert _selects(term["labelSelector"], web["metadata"]["labels"])


def test_every_object_says_it_is_chatdesk(variant: Rendered) -> None:
    for doc in variant.docs:
        labels = doc["metadata"].get("labels", {})
        where = f"{doc['kind']} {doc['metadata']['name']}"
        assert labels.get("app.kubernetes.io/part-of") == "chatdesk", where
