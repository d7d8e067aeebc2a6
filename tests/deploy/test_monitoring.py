"""The monitoring component: the ServiceMonitor finds the web pods, and every alert is valid
PromQL about metrics and label values that exist."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.conftest import Rendered, toolside

#: Announced HTTP metrics, not yet in the app: their expected labels. Once the app registers a
#: metric, its own labels are checked instead.
ANNOUNCED = {
    "chatdesk_http_requests_total": {"status"},
    "chatdesk_http_request_duration_seconds_bucket": {"le"},
}
#: Series from Prometheus itself and kube-state-metrics, with the labels the alerts use.
CLUSTER_METRICS = {
    "up": {"job"},
    "kube_deployment_status_replicas_unavailable": {"deployment"},
    "kube_job_status_failed": {"job_name"},
    "kube_cronjob_status_last_successful_time": {"cronjob"},
}
#: Every series Prometheus scrapes gets these target labels.
TARGET_LABELS = {"job", "namespace", "pod", "service", "instance", "endpoint", "container"}
SCRAPE_JOB = "chatdesk"


@pytest.fixture(scope="module")
def app_metrics(app_routes: dict[str, set[str]]) -> dict[str, set[str]]:
    """Exposed series names of the app's metrics and their labels (a histogram's buckets add le),
    once an app is made (app_routes), so that every metric is registered."""
    from prometheus_client import REGISTRY

    metrics: dict[str, set[str]] = {}
    # The registry's name index covers _total, _bucket, _sum, _count of each collector.
    for name, collector in REGISTRY._names_to_collectors.items():  # no public listing of labels
        if name.startswith("chatdesk_"):
            labels = set(getattr(collector, "_labelnames", ()))
            metrics[name] = labels | ({"le"} if name.endswith("_bucket") else set())
    assert "chatdesk_replies_total" in metrics
    return metrics


@pytest.fixture(scope="module")
def label_values() -> dict[str, set[str]]:
    """The values the app gives its metrics' labels, where the alerts compare with one."""
    from chatdesk.engine.types import AnsweredBy
    from chatdesk.llm.errors import FailureKind

    answered_by = {v for k, v in vars(AnsweredBy).items() if k.isupper() and isinstance(v, str)}
    return {"answered_by": answered_by | {"handoff"},
            "outcome": {kind.value for kind in FailureKind} | {"ok", "error"}}


def _monitoring(rendered: dict[str, Rendered]) -> list[Rendered]:
    return [variant for name, variant in rendered.items() if "monitoring" in name]


def test_the_service_monitor_scrapes_the_web_service(rendered: dict[str, Rendered]) -> None:
    for variant in _monitoring(rendered):
        monitor = variant.one("ServiceMonitor")
        service = variant.one("Service", "web")
        labels = service["metadata"]["labels"]
        assert all(labels.get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
        assert labels[monitor["spec"]["jobLabel"]] == SCRAPE_JOB, "the alerts select job=\"chatdesk\""
        ports = {port["name"] for port in service["spec"]["ports"]}
        assert {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]} <= ports
        # Prometheus may reach the pods through the default-deny policy.
        assert any(p["metadata"]["name"] == "web-from-prometheus" for p in variant.of_kind("NetworkPolicy"))


def _rules(variant: Rendered) -> list[dict[str, Any]]:
    rule = variant.one("PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def test_alerts_cover_what_goes_wrong(rendered: dict[str, Rendered]) -> None:
    for variant in _monitoring(rendered):
        alerts = {rule["alert"] for rule in _rules(variant)}
        assert {"ChatdeskDown", "ChatdeskNotReady", "ChatdeskHighErrorRate", "ChatdeskHighLatency",
                "ChatdeskFallbackRateHigh", "ChatdeskLLMCircuitOpen", "ChatdeskMigrationFailed",
                "ChatdeskTrainingFailed", "ChatdeskTrainingOverdue"} <= alerts
        for rule in _rules(variant):
            assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_every_alert_is_promql_about_real_series(rendered: dict[str, Rendered],
                                                 app_metrics: dict[str, set[str]],
                                                 label_values: dict[str, set[str]]) -> None:
    variant = _monitoring(rendered)[0]
    rules = _rules(variant)
    names = {"web": variant.one("Deployment", "web")["metadata"]["name"],
             "train": variant.one("CronJob", "train")["metadata"]["name"]}
    answers = toolside({"promql": [rule["expr"] for rule in rules]})["promql"]
    for rule, selectors in zip(rules, answers, strict=True):
        alert = rule["alert"]
        assert not isinstance(selectors, dict), f"{alert}: {selectors['error']}"
        for selector in selectors:
            metric, matchers = selector["metric"], selector["matchers"]
            known = app_metrics.get(metric) or ANNOUNCED.get(metric) or CLUSTER_METRICS.get(metric)
            assert known is not None, f"{alert}: no metric {metric}"
            for matcher in matchers:
                label, value = matcher["label"], matcher["value"]
                assert label in known | TARGET_LABELS, f"{alert}: {metric} has no label {label}"
                if metric.startswith("chatdesk_"):
                    assert {"label": "job", "op": "Equal", "value": SCRAPE_JOB} in matchers, \
                        f"{alert}: {metric} without job=\"{SCRAPE_JOB}\" would count other apps"
                if label in label_values and matcher["op"] in ("Equal", "NotEqual"):
                    assert value in label_values[label], f"{alert}: {label}={value!r} never happens"
                if label == "deployment":
                    assert value == names["web"], alert
                if label == "cronjob":
                    assert value == names["train"], alert
                if label == "job_name":
                    assert value.split("-")[0] in {"migrate", names["train"]}, alert
