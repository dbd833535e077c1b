"""The chart's PrometheusRule and Grafana dashboard: every alert expression and every dashboard
query parses as PromQL (promql-parser, the Python binding of the Rust promql-parser crate) and uses
only metrics, and labels, that the operator exports; the objects carry the labels Prometheus and
Grafana's sidecar select on; the alerts follow their values."""

from __future__ import annotations

import json
import re

import promql_parser
import pytest

import helm
from manifests import CHART

NS = "ssc-system"
DASHBOARD_FILE = CHART / "files" / "dashboards" / "ssc-operator.json"

# Every metric the operator exports (src/metrics.rs, prometheus-client text exposition), with its
# labels. Histograms are listed as their _bucket (le), _sum and _count series.
_HISTOGRAM = {"_bucket": {"le"}, "_sum": set(), "_count": set()}
METRICS: dict[str, set[str]] = {
    "ssc_operator_reconciles_total": {"result"},
    "ssc_operator_reconcile_errors_total": {"category"},
    **{f"ssc_operator_reconcile_duration_seconds{s}": labels for s, labels in _HISTOGRAM.items()},
    "ssc_operator_iam_calls_total": {"account", "operation", "code"},
    **{f"ssc_operator_iam_rate_limiter_wait_seconds{s}": labels for s, labels in _HISTOGRAM.items()},
    "ssc_operator_resources": {"reason"},
    "ssc_operator_leader": set(),
    "ssc_operator_swept_credentials_total": {"cause"},
    "ssc_operator_unclaimed_credentials_total": set(),
    "ssc_operator_credential_ready": {"namespace", "name"},
    "ssc_operator_credential_expiration_timestamp_seconds": {"namespace", "name"},
    "ssc_operator_credential_next_rotation_timestamp_seconds": {"namespace", "name"},
    "ssc_operator_build_info": {"version"},
    "process_cpu_seconds_total": set(),
    "process_resident_memory_bytes": set(),
    "process_virtual_memory_bytes": set(),
    "process_open_fds": set(),
    "process_max_fds": set(),
    "process_start_time_seconds": set(),
    "process_threads": set(),
}
# Labels Prometheus adds to every series scraped through a ServiceMonitor.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "container", "endpoint"}

ALERTS = {"SSCCredentialExpiringSoon", "SSCCredentialNotReady", "SSCIAMThrottled", "SSCNoLeader",
          "SSCUnclaimedCredentials"}
PER_CREDENTIAL = {"SSCCredentialExpiringSoon", "SSCCredentialNotReady"}


def parse(expr: str):
    """Parse PromQL; ValueError (the parser's message) when it is not valid."""
    return promql_parser.parse(expr)


def selectors(expr: str) -> list:
    """The vector selectors of a parsed expression."""
    found: list = []
    promql_parser.walk(parse(expr), lambda n: found.append(n) if isinstance(n, promql_parser.VectorSelector) else None)
    return found


def grouping_labels(expr: str) -> set[str]:
    """Labels named by by()/without() and on()/ignoring() clauses."""
    labels: set[str] = set()

    def visit(n):
        if isinstance(n, promql_parser.AggregateExpr) and n.modifier is not None:
            labels.update(n.modifier.labels)
        if isinstance(n, promql_parser.BinaryExpr) and n.modifier is not None and n.modifier.matching is not None:
            labels.update(n.modifier.matching.labels)
    promql_parser.walk(parse(expr), visit)
    return labels


def check_expression(expr: str) -> set[str]:
    """Parses `expr` and checks every metric and label it uses against METRICS; returns the metrics."""
    metrics = set()
    sels = selectors(expr)
    assert sels, f"no metric in {expr!r}"
    for s in sels:
        assert s.name, f"a selector without a metric name in {expr!r}"
        assert s.name in METRICS, f"{s.name} is not a metric the operator exports ({expr!r})"
        metrics.add(s.name)
        for m in s.matchers.matchers:
            assert m.name in METRICS[s.name] | TARGET_LABELS, f"{s.name} has no label {m.name} ({expr!r})"
    known = set().union(*(METRICS[m] for m in metrics)) | TARGET_LABELS
    unknown = grouping_labels(expr) - known
    assert not unknown, f"grouping by labels no metric of {expr!r} has: {unknown}"
    return metrics


# ---------------------------------------------------------------- the checks themselves can fail


@pytest.mark.parametrize("broken", [
    "sum(rate(ssc_operator_reconciles_total[5m])",          # unclosed parenthesis
    "ssc_operator_leader ==",                                # missing operand
    "rate(ssc_operator_reconciles_total[5 minutes])",        # not a duration
    "sum by namespace (ssc_operator_credential_ready)",     # by without parentheses
    "absent_everything(ssc_operator_leader)",                # unknown function
    'ssc_operator_iam_calls_total{code="Throttled"',         # unclosed matcher
])
def test_parser_rejects_broken_expressions(broken):
    with pytest.raises(ValueError):
        parse(broken)


@pytest.mark.parametrize("expr,message", [
    ("ssc_operator_credentials_ready == 0", "not a metric the operator exports"),
    ('ssc_operator_iam_calls_total{status="Throttled"}', "has no label status"),
    ("sum by (user) (ssc_operator_credential_ready)", "grouping by labels"),
    ("histogram_quantile(0.9, rate(ssc_operator_reconcile_duration_seconds[5m]))", "not a metric"),
])
def test_metric_and_label_checks_reject_unknown_names(expr, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_expression(expr)


# ---------------------------------------------------------------- PrometheusRule


def rules_of(values: dict | None = None, **kw) -> dict:
    r = helm.render({"metrics": {"prometheusRule": {"enabled": True}}} | (values or {}), **kw)
    [rule] = r.kind("PrometheusRule")
    [group] = rule["spec"]["groups"]
    return {a["alert"]: a for a in group["rules"]}


@pytest.fixture(scope="module")
def default_rules() -> dict:
    return rules_of()


def test_prometheus_rule_is_off_by_default():
    assert not helm.render().kind("PrometheusRule")


def test_every_alert_is_there(default_rules):
    assert set(default_rules) == ALERTS


@pytest.mark.parametrize("alert", sorted(ALERTS))
def test_alert_expression_parses_and_uses_exported_metrics(alert, default_rules):
    rule = default_rules[alert]
    assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
    metrics = check_expression(rule["expr"])
    # Only this release's operator: every selector matches its job (the metrics Service's name).
    for s in selectors(rule["expr"]):
        jobs = [m.value for m in s.matchers.matchers if m.name == "job"]
        assert jobs == ["ssc-operator-metrics"], (alert, str(s))
    assert metrics
    assert rule["labels"]["severity"] in ("warning", "critical")
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]


@pytest.mark.parametrize("alert", sorted(PER_CREDENTIAL))
def test_per_credential_alerts_name_the_resource(alert, default_rules):
    """Helm's own {{ }} are escaped: Prometheus receives the template {{ $labels.namespace }}/..."""
    annotations = default_rules[alert]["annotations"]
    for key in ("summary", "description"):
        assert "{{ $labels.namespace }}/{{ $labels.name }}" in annotations[key], annotations[key]
    # The metric carries those labels.
    [s] = selectors(default_rules[alert]["expr"])
    assert {"namespace", "name"} <= METRICS[s.name]


def test_alert_semantics(default_rules):
    exp = default_rules["SSCCredentialExpiringSoon"]
    assert "time()" in exp["expr"] and "14 * 86400" in exp["expr"]
    assert default_rules["SSCCredentialNotReady"]["for"] == "15m"
    assert default_rules["SSCCredentialNotReady"]["expr"].endswith("== 0")
    throttled = default_rules["SSCIAMThrottled"]
    assert throttled["for"] == "15m"
    [s] = selectors(throttled["expr"])
    assert [(m.name, m.value) for m in s.matchers.matchers if m.name == "code"] == [("code", "Throttled")]
    # No leader, or no operator at all: the expression is absent(), which has a result exactly when no
    # series is 1, including when there is no series (a plain max(...) < 1 would be empty then).
    leader = default_rules["SSCNoLeader"]
    top = parse(leader["expr"])
    assert isinstance(top, promql_parser.Call) and str(top).startswith("absent("), leader["expr"]
    assert "== 1" in leader["expr"] and leader["for"] == "5m"
    assert leader["labels"]["severity"] == "critical"
    # A counter (each unclaimed id once): the alert fires for an hour after one is found, whatever
    # became of the unknown Create's window.
    unclaimed = default_rules["SSCUnclaimedCredentials"]
    assert "increase(" in unclaimed["expr"] and "[1h]" in unclaimed["expr"], unclaimed["expr"]
    assert unclaimed["expr"].endswith("> 0") and unclaimed["for"] == "0m"
    assert unclaimed["labels"]["severity"] == "warning"


def test_alert_values_are_followed():
    rules = rules_of({"metrics": {"prometheusRule": {
        "enabled": True, "job": "my-ssc", "alertLabels": {"team": "platform"},
        "alerts": {"credentialExpiringSoon": {"withinDays": 30, "for": "2h", "severity": "critical"},
                   "credentialNotReady": {"for": "1h"}, "iamThrottled": {"enabled": False}}}}})
    assert set(rules) == ALERTS - {"SSCIAMThrottled"}
    exp = rules["SSCCredentialExpiringSoon"]
    assert "30 * 86400" in exp["expr"] and exp["for"] == "2h" and exp["labels"]["severity"] == "critical"
    assert "30 days" in exp["annotations"]["summary"]
    assert rules["SSCCredentialNotReady"]["for"] == "1h"
    for rule in rules.values():
        assert rule["labels"]["team"] == "platform"
        check_expression(rule["expr"])
        assert {m.value for s in selectors(rule["expr"]) for m in s.matchers.matchers if m.name == "job"} == {"my-ssc"}


def test_every_alert_disabled_renders_no_rule():
    off = {a: {"enabled": False} for a in ("credentialExpiringSoon", "credentialNotReady", "iamThrottled", "noLeader",
                                          "unclaimedCredentials")}
    assert not helm.render({"metrics": {"prometheusRule": {"enabled": True, "alerts": off}}}).kind("PrometheusRule")


def test_rule_job_follows_the_release_name():
    """The default job is the metrics Service's name, which the ServiceMonitor scrapes as the job."""
    r = helm.render({"metrics": {"prometheusRule": {"enabled": True}, "serviceMonitor": {"enabled": True}}},
                    release="dev")
    [svc] = [s for s in r.kind("Service") if s["metadata"]["name"].endswith("-metrics")]
    [sm] = r.kind("ServiceMonitor")
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert "jobLabel" not in sm["spec"], "the job is the Service name only without jobLabel"
    [rule] = r.kind("PrometheusRule")
    for a in rule["spec"]["groups"][0]["rules"]:
        assert {m.value for s in selectors(a["expr"]) for m in s.matchers.matchers if m.name == "job"} == \
            {svc["metadata"]["name"]} == {"dev-ssc-operator-metrics"}


def test_rule_object_labels_and_namespace():
    r = helm.render({"metrics": {"prometheusRule": {"enabled": True, "namespace": "monitoring",
                                                     "labels": {"release": "prom", "role": "alert-rules"}}}})
    [rule] = r.kind("PrometheusRule")
    assert rule["metadata"]["namespace"] == "monitoring"
    labels = rule["metadata"]["labels"]
    assert labels["release"] == "prom" and labels["role"] == "alert-rules"
    assert labels["app.kubernetes.io/instance"] == "ssc-operator"


# ---------------------------------------------------------------- Grafana dashboard

SUBSTITUTIONS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$namespace": "team-a"}


def substitute(expr: str) -> str:
    for var, value in SUBSTITUTIONS.items():
        expr = expr.replace(var, value)
    assert "$" not in expr, f"a dashboard variable the test does not know: {expr!r}"
    return expr


def dashboard_of(values: dict | None = None, **kw) -> tuple[dict, dict]:
    r = helm.render({"metrics": {"grafanaDashboard": {"enabled": True}}} | (values or {}), **kw)
    [cm] = [c for c in r.kind("ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]
    return cm, json.loads(cm["data"]["ssc-operator.json"])


@pytest.fixture(scope="module")
def dashboard() -> tuple[dict, dict]:
    return dashboard_of()


def panels(dash: dict) -> list[dict]:
    out = []
    for p in dash["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def targets(dash: dict) -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in panels(dash) for t in p.get("targets", [])]


def test_dashboard_is_off_by_default():
    assert not [c for c in helm.render().kind("ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]


def test_dashboard_configmap_is_the_chart_file(dashboard):
    cm, dash = dashboard
    assert cm["data"]["ssc-operator.json"] == DASHBOARD_FILE.read_text().rstrip("\n")
    assert json.loads(DASHBOARD_FILE.read_text()) == dash
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == NS
    assert "annotations" not in cm["metadata"]


def test_dashboard_configmap_labels_namespace_annotations():
    cm, _ = dashboard_of({"metrics": {"grafanaDashboard": {
        "enabled": True, "namespace": "grafana", "sidecarLabel": "example.com/dashboard", "sidecarLabelValue": "yes",
        "labels": {"team": "platform"}, "annotations": {"grafana_folder": "Operators"}}}})
    meta = cm["metadata"]
    assert meta["namespace"] == "grafana"
    assert meta["labels"]["example.com/dashboard"] == "yes" and "grafana_dashboard" not in meta["labels"]
    assert meta["labels"]["team"] == "platform"
    assert meta["annotations"] == {"grafana_folder": "Operators"}


def test_dashboard_variables(dashboard):
    _, dash = dashboard
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert set(variables) == {"datasource", "namespace"}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ns = variables["namespace"]
    assert ns["type"] == "query" and ns["includeAll"] and ns["multi"]
    assert ns["definition"] == ns["query"]["query"] == "label_values(ssc_operator_credential_ready, namespace)"
    # label_values(METRIC, LABEL) is Grafana's, not PromQL: check its metric and label.
    metric, label = re.fullmatch(r"label_values\((\w+), (\w+)\)", ns["definition"]).groups()
    assert label in METRICS[metric]


def test_dashboard_panels_are_well_formed(dashboard):
    _, dash = dashboard
    ids = [p["id"] for p in panels(dash)]
    assert len(ids) == len(set(ids))
    assert dash["uid"] == "ssc-operator" and dash["title"]
    for p in panels(dash):
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["datasource"] == p["datasource"], p["title"]


def test_dashboard_queries_parse_and_use_exported_metrics(dashboard):
    _, dash = dashboard
    found = targets(dash)
    assert len(found) >= 15
    used = set()
    for title, expr in found:
        try:
            used |= check_expression(substitute(expr))
        except ValueError as e:
            raise AssertionError(f"panel {title!r}: {expr!r} is not PromQL: {e}") from None
    # The panels the dashboard is for.
    for metric in ("ssc_operator_resources", "ssc_operator_credential_ready",
                   "ssc_operator_credential_expiration_timestamp_seconds",
                   "ssc_operator_credential_next_rotation_timestamp_seconds", "ssc_operator_reconciles_total",
                   "ssc_operator_reconcile_duration_seconds_bucket", "ssc_operator_iam_calls_total",
                   "ssc_operator_iam_rate_limiter_wait_seconds_bucket", "ssc_operator_leader",
                   "process_resident_memory_bytes", "process_cpu_seconds_total", "ssc_operator_build_info"):
        assert metric in used, f"no panel shows {metric}"


def test_dashboard_filters_per_credential_panels_by_namespace(dashboard):
    _, dash = dashboard
    for title, expr in targets(dash):
        for s in selectors(substitute(expr)):
            if "namespace" in METRICS[s.name]:
                assert 'namespace=~"$namespace"' in expr, f"panel {title!r} ignores the namespace variable"


def test_a_broken_dashboard_query_is_caught(dashboard):
    """The dashboard check fails on a broken query and on an unknown variable."""
    _, dash = dashboard
    title, expr = targets(dash)[0]
    with pytest.raises(ValueError):
        check_expression(substitute(expr + ")"))
    with pytest.raises(AssertionError, match="variable the test does not know"):
        substitute(expr + " * $unknown")
