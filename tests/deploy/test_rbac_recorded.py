"""RBAC proven against what the operator really does.

The end-to-end tests (`cargo test --test e2e`, run first by scripts/test) record every request
the operator's client makes to the Kubernetes API stand-in into target/operator-requests/*.jsonl.
Here each recorded request must be allowed by the rules in deploy/ and in the rendered chart, and
every rule must be used by some recorded request (no rule grants more than what is used). The
e2e tests run the operator in namespace team-a with its Lease in ssc-system, as the manifests do.

Requests to the `apps` group (rollout restarts of the workloads a resource names, an opt-in:
--rollout-restart, Helm rolloutRestart.enabled, deploy/rollout-restart) are checked against the
RBAC with that option on, and must not be allowed without it; every other request against the
default RBAC. The recordings are per test, so a test without rollout restarts simply has none.

The operator's own records (CredentialRecord, cluster-scoped: /apis/iam.ssc-operator.dev/v1alpha1/
credentialrecords[/NAME], no /namespaces/NS) are requests without a namespace, also from an operator
run with --watch-namespace: only a ClusterRole grants them. So are the IAMIdentities
(/apis/iam.ssc-operator.dev/v1alpha1/iamidentities[/NAME[/status]]): read, listed and watched, written
through a patch of their status only.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

import helm
from manifests import DEPLOY, kustomize
from rbac import Scoped, allowed, effective_rules, request_attributes

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "target" / "operator-requests"
SA_NS, SA = "ssc-system", "ssc-operator"
MANAGED_BY = "app.kubernetes.io/managed-by=ssc-operator"


def _recorded() -> list[dict]:
    files = sorted(RECORDINGS.glob("*.jsonl")) if RECORDINGS.is_dir() else []
    if not files:
        pytest.fail(f"no recordings in {RECORDINGS}: run `cargo test --test e2e` first (scripts/test does)")
    out = []
    for f in files:
        for line in f.read_text().splitlines():
            if line.strip():
                out.append(json.loads(line))
    return out


@pytest.fixture(scope="module")
def requests() -> list[dict]:
    return _recorded()


# Non-resource URLs every authenticated identity may GET through kube-apiserver's default
# ClusterRole system:public-info-viewer (bound to system:authenticated and system:unauthenticated).
PUBLIC_INFO = {"/healthz", "/livez", "/readyz", "/version", "/version/"}


@pytest.fixture(scope="module")
def attributes(requests):
    out = []
    for r in requests:
        path = urlsplit(r["path"]).path
        if not path.startswith(("/api/", "/apis/")):
            assert r["method"] == "GET" and path in PUBLIC_INFO, f"non-resource request not allowed by default: {r}"
            continue
        out.append((r, request_attributes(r["method"], r["path"])))
    return out


ROLLOUT_GROUP = "apps"


@pytest.fixture(scope="module")
def core(attributes):
    """Every recorded request but the rollout restarts."""
    return [(r, a) for r, a in attributes if a.group != ROLLOUT_GROUP]


@pytest.fixture(scope="module")
def restarts(attributes):
    """The rollout restarts (group apps); none until an e2e test records some."""
    return [(r, a) for r, a in attributes if a.group == ROLLOUT_GROUP]


def _rule_items(rules):
    """Each (verb, group, resource[/sub], namespace-or-None, resourceNames) a rule list grants."""
    for r in rules:
        scope = None
        if isinstance(r, Scoped):
            scope, r = r.namespace, r.rule
        for verb in r.get("verbs", []):
            for group in r.get("apiGroups", []):
                for resource in r.get("resources", []):
                    yield verb, group, resource, scope, tuple(r.get("resourceNames") or ())


def _check(objects, attributes, watch_namespace=None):
    rules = effective_rules(objects, SA_NS, SA)
    assert rules, "no rules bound to the operator's ServiceAccount"
    denied = []
    for raw, a in attributes:
        if watch_namespace and a.namespace not in (watch_namespace, SA_NS):
            continue
        if not allowed(rules, a.verb, a.group, a.resource, a.subresource, a.namespace, a.name):
            denied.append(f"{raw['method']} {raw['path']} -> {a}")
    assert not denied, "requests the rules do not allow:\n" + "\n".join(denied[:20])

    unused = []
    for verb, group, resource, scope, names in _rule_items(rules):
        res, _, sub = resource.partition("/")
        used = any(
            a.verb == verb and a.group == group and a.resource == res and a.subresource == sub
            and (scope is None or a.namespace == scope)
            and (not names or a.name in names)
            for _, a in attributes
        )
        if not used:
            unused.append((verb, group, resource, scope, names))
    assert not unused, f"rules never used by the operator (grant more than needed): {unused}"


def test_recordings_cover_every_kind_of_call(attributes):
    kinds = {(a.verb, a.resource, a.subresource) for _, a in attributes}
    for expected in [
        ("list", "servicespecificcredentials", ""), ("watch", "servicespecificcredentials", ""),
        ("patch", "servicespecificcredentials", ""), ("patch", "servicespecificcredentials", "status"),
        ("get", "secrets", ""), ("create", "secrets", ""), ("update", "secrets", ""),
        ("delete", "secrets", ""), ("list", "secrets", ""), ("watch", "secrets", ""),
        ("get", "namespaces", ""), ("create", "events", ""),
        ("get", "leases", ""), ("create", "leases", ""), ("update", "leases", ""),
        ("get", "credentialrecords", ""), ("list", "credentialrecords", ""), ("create", "credentialrecords", ""),
        ("update", "credentialrecords", ""), ("delete", "credentialrecords", ""),
        ("list", "iamidentities", ""), ("watch", "iamidentities", ""), ("patch", "iamidentities", "status"),
    ]:
        assert expected in kinds, f"no recorded {expected}; recorded: {sorted(kinds)}"


RECORDS = ("iam.ssc-operator.dev", "credentialrecords")
IDENTITIES = ("iam.ssc-operator.dev", "iamidentities")


def test_identities_are_cluster_scoped_and_written_through_status_only(attributes):
    """Every request on the IAMIdentities names no namespace (the kind is cluster-scoped), and the
    operator never creates, changes or deletes one: it writes the status subresource only."""
    identities = [(raw, a) for raw, a in attributes if (a.group, a.resource) == IDENTITIES]
    assert identities, "no recorded request on iamidentities"
    for raw, a in identities:
        assert "/namespaces/" not in urlsplit(raw["path"]).path and a.namespace == "", f"namespaced: {raw}"
        if a.subresource:
            assert a.subresource == "status" and a.verb == "patch", f"unexpected: {raw}"
        else:
            assert a.verb in ("get", "list", "watch"), f"an IAMIdentity written by the operator: {raw}"


def test_records_are_cluster_scoped_and_never_watched_or_patched(attributes):
    """Every request on the records names no namespace (the kind is cluster-scoped), is one of
    get, list, create, update, delete, and lists are paged (limit)."""
    records = [(raw, a) for raw, a in attributes if (a.group, a.resource) == RECORDS]
    assert records, "no recorded request on credentialrecords"
    for raw, a in records:
        assert "/namespaces/" not in urlsplit(raw["path"]).path and a.namespace == "", f"namespaced: {raw}"
        assert a.verb in ("get", "list", "create", "update", "delete") and not a.subresource, f"unexpected: {raw}"
        if a.verb == "list":
            assert parse_qs(urlsplit(raw["path"]).query).get("limit"), f"unpaged list: {raw}"


def test_secrets_are_only_listed_and_watched_by_label(requests, attributes):
    for raw, a in attributes:
        if a.resource == "secrets" and a.verb in ("list", "watch"):
            selectors = parse_qs(urlsplit(raw["path"]).query).get("labelSelector", [])
            assert MANAGED_BY in selectors, f"unselected Secret {a.verb}: {raw['path']}"


def test_deploy_rbac_allows_exactly_the_recorded_requests(core):
    _check(kustomize(DEPLOY), core)


def test_chart_rbac_allows_exactly_the_recorded_requests(core):
    _check(helm.render().objects, core)


def _check_restarts(objects, restarts):
    """The rollout-restart RBAC allows each recorded restart; every verb it grants is used once
    restarts are recorded (not every kind: a test may restart Deployments only)."""
    rules = effective_rules(objects, SA_NS, SA)
    apps = [(verb, resource, scope, names) for verb, group, resource, scope, names in _rule_items(rules)
            if group == ROLLOUT_GROUP]
    assert apps, "no apps rules with rollout restarts on"
    denied = [f"{raw['method']} {raw['path']} -> {a}" for raw, a in restarts
              if not allowed(rules, a.verb, a.group, a.resource, a.subresource, a.namespace, a.name)]
    assert not denied, "rollout restarts the rules do not allow:\n" + "\n".join(denied[:20])
    for raw, a in restarts:
        assert a.namespace and a.name and not a.subresource, f"not a restart of one named workload: {raw}"
    if restarts:
        unused = {verb for verb, *_ in apps} - {a.verb for _, a in restarts}
        assert not unused, f"rollout-restart verbs never used: {unused}"


@pytest.mark.parametrize("source", ["chart", "deploy-overlay"])
def test_rollout_restart_rbac_allows_the_recorded_restarts(source, core, restarts):
    objects = helm.render({"rolloutRestart": {"enabled": True}}).objects if source == "chart" \
        else kustomize(DEPLOY / "rollout-restart")
    _check_restarts(objects, restarts)
    # Turning the option on changes nothing else: the other requests are still exactly allowed.
    _check([o for o in objects if "rollout-restart" not in o["metadata"]["name"]], core)


@pytest.mark.parametrize("source", ["chart", "deploy"])
def test_default_rbac_allows_no_recorded_restart(source, restarts):
    objects = helm.render().objects if source == "chart" else kustomize(DEPLOY)
    rules = effective_rules(objects, SA_NS, SA)
    granted = [f"{raw['method']} {raw['path']}" for raw, a in restarts
               if allowed(rules, a.verb, a.group, a.resource, a.subresource, a.namespace, a.name)]
    assert not granted, f"rollout restarts allowed without the opt-in: {granted}"


def test_chart_with_watch_namespaces_allows_what_the_scoped_operator_did():
    """The e2e run with `--watch-namespace team-a,team-b` against the chart rendered for those
    namespaces: Roles only, so any cluster-wide or other-namespace request would be denied, but
    for the cluster-scoped records and identities (the ClusterRoles RELEASE-records, RELEASE-identities). (That run covers a few calls,
    so unused rules are checked by the cluster-wide tests above.)"""
    files = sorted(RECORDINGS.glob("scoped-*.jsonl")) if RECORDINGS.is_dir() else []
    if not files:
        pytest.fail(f"no scoped recordings in {RECORDINGS}: run `cargo test --test e2e` first")
    for f in files:
        namespaces = f.name[len("scoped-"):].rsplit("-", 1)[0].split("+")
        recorded = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        # Restarts, if that run made any, need the opt-in (checked against it; see above).
        restarts = any(urlsplit(r["path"]).path.startswith(f"/apis/{ROLLOUT_GROUP}/") for r in recorded)
        rules = effective_rules(helm.render({"watchNamespaces": namespaces,
                                             "rolloutRestart": {"enabled": restarts}}).objects, SA_NS, SA)
        denied = []
        for r in recorded:
            if not urlsplit(r["path"]).path.startswith(("/api/", "/apis/")):
                continue
            a = request_attributes(r["method"], r["path"])
            if not allowed(rules, a.verb, a.group, a.resource, a.subresource, a.namespace, a.name):
                denied.append(f"{r['method']} {r['path']}")
        assert not denied, f"{namespaces}: requests the chart's Roles do not allow:\n" + "\n".join(denied[:20])
        assert any("/namespaces/team-b/" in r["path"] for r in recorded)
        # Its only cluster-wide requests are on the cluster-scoped kinds: the records and the identities.
        cluster_wide = [f"{r['method']} {r['path']}" for r in recorded
                        if urlsplit(r["path"]).path.startswith(("/api/", "/apis/"))
                        and not (a := request_attributes(r["method"], r["path"])).namespace
                        and (a.group, a.resource) not in (RECORDS, IDENTITIES)]
        assert not cluster_wide, f"{namespaces}: cluster-wide requests of a scoped operator: {cluster_wide[:10]}"
