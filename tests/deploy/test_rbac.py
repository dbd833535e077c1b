"""RBAC: the evaluator in rbac.py (unit tests), and the rules shipped in deploy/
and the chart: exactly the operator's requests, nothing more."""

from __future__ import annotations

import pytest

import helm
from manifests import DEPLOY, kustomize
from rbac import (
    BUILTIN_AGGREGATED, Request, Scoped, aggregate, allowed, effective_rules, label_selector_matches,
    request_attributes, rule_allows, user_rules,
)

SA_NS, SA = "ssc-system", "ssc-operator"
SSC = "/apis/iam.ssc-operator.dev/v1alpha1"
# The operator's CredentialRecords: cluster-scoped, named by the resource's uid (and one
# marker, ssc-operator-epoch).
RECORDS = SSC + "/credentialrecords"
# The IAMIdentities: cluster-scoped, the platform team's; the operator reads them and writes their status.
IDENTITIES = SSC + "/iamidentities"
LEASES = "/apis/coordination.k8s.io/v1/namespaces"
MANAGED = "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dssc-operator"

# ---------------------------------------------------------------- rbac.py unit tests


@pytest.mark.parametrize("method,path,expected", [
    ("GET", "/api/v1/namespaces/a/secrets/s", Request("get", "", "secrets", "", "a", "s")),
    ("GET", "/api/v1/namespaces/a/secrets", Request("list", "", "secrets", "", "a", "")),
    ("GET", "/api/v1/secrets?watch=true&" + MANAGED, Request("watch", "", "secrets", "", "", "")),
    ("GET", "/api/v1/secrets?watch=1", Request("watch", "", "secrets", "", "", "")),
    ("GET", "/api/v1/namespaces/a/secrets?fieldSelector=metadata.name%3Ds&watch=true",
     Request("watch", "", "secrets", "", "a", "s")),
    ("GET", "/api/v1/namespaces/a/secrets/s?watch=true", Request("get", "", "secrets", "", "a", "s")),
    ("POST", "/api/v1/namespaces/a/secrets", Request("create", "", "secrets", "", "a", "")),
    ("PUT", "/api/v1/namespaces/a/secrets/s", Request("update", "", "secrets", "", "a", "s")),
    ("PATCH", "/api/v1/namespaces/a/secrets/s", Request("patch", "", "secrets", "", "a", "s")),
    ("DELETE", "/api/v1/namespaces/a/secrets/s", Request("delete", "", "secrets", "", "a", "s")),
    ("DELETE", "/api/v1/namespaces/a/secrets", Request("deletecollection", "", "secrets", "", "a", "")),
    ("GET", "/api/v1/namespaces/a", Request("get", "", "namespaces", "", "a", "a")),
    ("GET", "/api/v1/namespaces", Request("list", "", "namespaces", "", "", "")),
    ("PUT", "/api/v1/namespaces/a/status", Request("update", "", "namespaces", "status", "a", "a")),
    ("PATCH", SSC + "/namespaces/a/servicespecificcredentials/x/status",
     Request("patch", "iam.ssc-operator.dev", "servicespecificcredentials", "status", "a", "x")),
    ("GET", SSC + "/servicespecificcredentials?watch=true&resourceVersion=5",
     Request("watch", "iam.ssc-operator.dev", "servicespecificcredentials", "", "", "")),
    ("GET", "/apis/coordination.k8s.io/v1/watch/namespaces/n/leases/l",
     Request("watch", "coordination.k8s.io", "leases", "", "n", "l")),
    # A cluster-scoped custom resource: no namespace, whatever the operator's own scope.
    ("GET", RECORDS + "/0b1c-uid", Request("get", "iam.ssc-operator.dev", "credentialrecords", "", "", "0b1c-uid")),
    ("GET", RECORDS + "?limit=500", Request("list", "iam.ssc-operator.dev", "credentialrecords", "", "", "")),
    ("GET", RECORDS + "?limit=500&continue=eyJ2IjoxfQ%3D%3D",
     Request("list", "iam.ssc-operator.dev", "credentialrecords", "", "", "")),
    ("GET", RECORDS + "?watch=true", Request("watch", "iam.ssc-operator.dev", "credentialrecords", "", "", "")),
    ("POST", RECORDS, Request("create", "iam.ssc-operator.dev", "credentialrecords", "", "", "")),
    ("PUT", RECORDS + "/ssc-operator-epoch",
     Request("update", "iam.ssc-operator.dev", "credentialrecords", "", "", "ssc-operator-epoch")),
    ("PATCH", RECORDS + "/u", Request("patch", "iam.ssc-operator.dev", "credentialrecords", "", "", "u")),
    ("DELETE", RECORDS + "/u", Request("delete", "iam.ssc-operator.dev", "credentialrecords", "", "", "u")),
    ("DELETE", RECORDS, Request("deletecollection", "iam.ssc-operator.dev", "credentialrecords", "", "", "")),
])
def test_request_attributes(method, path, expected):
    assert request_attributes(method, path) == expected


def test_request_attributes_rejects_non_resource_paths():
    for path in ("/version", "/apis", "/api/v1", "/healthz"):
        with pytest.raises(ValueError):
            request_attributes("GET", path)


def test_rule_matching():
    r = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}
    assert rule_allows(r, "get", "", "secrets")
    assert not rule_allows(r, "watch", "", "secrets")
    assert not rule_allows(r, "get", "apps", "secrets")
    assert not rule_allows(r, "get", "", "configmaps")
    # A resource rule does not cover its subresources, and vice versa.
    assert not rule_allows({"apiGroups": ["g"], "resources": ["things"], "verbs": ["patch"]},
                           "patch", "g", "things", "status")
    assert rule_allows({"apiGroups": ["g"], "resources": ["things/status"], "verbs": ["patch"]},
                       "patch", "g", "things", "status")
    assert not rule_allows({"apiGroups": ["g"], "resources": ["things/status"], "verbs": ["patch"]},
                           "patch", "g", "things")
    # Wildcards.
    assert rule_allows({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, "delete", "x", "y", "z")
    assert rule_allows({"apiGroups": ["g"], "resources": ["*/status"], "verbs": ["get"]}, "get", "g", "a", "status")
    assert not rule_allows({"apiGroups": ["g"], "resources": ["*/status"], "verbs": ["get"]}, "get", "g", "a")
    # resourceNames: only requests naming an object; never list/create without a name.
    named = {"apiGroups": [""], "resources": ["leases"], "resourceNames": ["l"], "verbs": ["get", "list"]}
    assert rule_allows(named, "get", "", "leases", name="l")
    assert not rule_allows(named, "get", "", "leases", name="other")
    assert not rule_allows(named, "list", "", "leases")
    # Non-resource rules never grant resource requests.
    assert not rule_allows({"nonResourceURLs": ["*"], "verbs": ["*"]}, "get", "", "secrets")


def test_scoped_rules_apply_only_in_their_namespace():
    rules = [Scoped("a", {"apiGroups": [""], "resources": ["secrets", "namespaces"], "verbs": ["get", "list"]})]
    assert allowed(rules, "get", "", "secrets", "", "a", "s")
    assert not allowed(rules, "get", "", "secrets", "", "b", "s")
    assert not allowed(rules, "list", "", "secrets", "", "", "")  # all namespaces
    # The Namespace object itself is authorized with namespace=its name.
    assert allowed(rules, *_attrs("GET", "/api/v1/namespaces/a"))
    assert not allowed(rules, *_attrs("GET", "/api/v1/namespaces/b"))
    cluster = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]
    assert allowed(cluster, "list", "", "secrets", "", "", "")
    assert allowed(cluster, "list", "", "secrets", "", "b", "")


def test_effective_rules_follow_bindings():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "a"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    crole = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "c"},
             "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}
    sa = {"kind": "ServiceAccount", "name": "op", "namespace": "sys"}

    def binding(kind, ns, ref_kind, ref_name, subject=sa):
        meta = {"name": "b"} | ({"namespace": ns} if ns else {})
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref_name},
                "subjects": [subject]}

    # RoleBinding -> Role: only in that namespace.
    rules = effective_rules([role, binding("RoleBinding", "a", "Role", "r")], "sys", "op")
    assert allowed(rules, "get", "", "pods", "", "a", "p") and not allowed(rules, "get", "", "pods", "", "b", "p")
    # RoleBinding -> ClusterRole: the ClusterRole's rules, only in the binding's namespace.
    rules = effective_rules([crole, binding("RoleBinding", "a", "ClusterRole", "c")], "sys", "op")
    assert allowed(rules, "get", "", "secrets", "", "a", "s") and not allowed(rules, "get", "", "secrets", "", "b", "s")
    # ClusterRoleBinding -> ClusterRole: everywhere.
    rules = effective_rules([crole, binding("ClusterRoleBinding", None, "ClusterRole", "c")], "sys", "op")
    assert allowed(rules, "get", "", "secrets", "", "b", "s")
    # Another subject, a dangling roleRef, a Role of another namespace: nothing.
    other = {"kind": "ServiceAccount", "name": "op", "namespace": "elsewhere"}
    assert effective_rules([crole, binding("ClusterRoleBinding", None, "ClusterRole", "c", other)], "sys", "op") == []
    assert effective_rules([binding("ClusterRoleBinding", None, "ClusterRole", "missing")], "sys", "op") == []
    assert effective_rules([role, binding("RoleBinding", "b", "Role", "r")], "sys", "op") == []
    # Groups that contain every service account.
    group = {"kind": "Group", "name": "system:serviceaccounts:sys", "apiGroup": "rbac.authorization.k8s.io"}
    assert effective_rules([crole, binding("ClusterRoleBinding", None, "ClusterRole", "c", group)], "sys", "op")


def test_label_selector_matching():
    labels = {"a": "1", "b": "2"}
    assert label_selector_matches({}, labels)
    assert label_selector_matches({"matchLabels": {"a": "1"}}, labels)
    assert not label_selector_matches({"matchLabels": {"a": "2"}}, labels)
    assert not label_selector_matches({"matchLabels": {"c": "1"}}, labels)
    assert label_selector_matches({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "3"]}]}, labels)
    assert not label_selector_matches({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]},
                                      labels)
    assert label_selector_matches({"matchExpressions": [{"key": "c", "operator": "DoesNotExist"}]}, labels)
    assert not label_selector_matches({"matchExpressions": [{"key": "c", "operator": "Exists"}]}, labels)


def test_aggregation_reaches_view_edit_and_admin_transitively():
    def role(name, labels, verbs):
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": name, "labels": labels},
                "rules": [{"apiGroups": ["g"], "resources": ["things"], "verbs": verbs}]}
    reader = role("reader", {"rbac.authorization.k8s.io/aggregate-to-view": "true"}, ["get"])
    writer = role("writer", {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}, ["create"])
    unlabelled = role("other", {}, ["delete"])
    roles = {o["metadata"]["name"]: o for o in aggregate([reader, writer, unlabelled] + BUILTIN_AGGREGATED)}
    verbs = lambda name: {v for r in roles[name]["rules"] for v in r["verbs"]}
    assert verbs("view") == {"get"}
    assert verbs("edit") == {"get", "create"}      # view carries aggregate-to-edit
    assert verbs("admin") == {"get", "create"}     # edit carries aggregate-to-admin
    assert "rules" not in BUILTIN_AGGREGATED[0] or BUILTIN_AGGREGATED[0]["rules"] == [], "inputs unchanged"


def test_user_rules_follow_user_and_group_subjects():
    crole = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "c"},
             "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}

    def binding(subject):
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "b", "namespace": "a"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "c"},
                "subjects": [subject]}
    alice = {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}
    devs = {"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}
    assert allowed(user_rules([crole, binding(alice)], "alice"), "get", "", "pods", "", "a", "p")
    assert not user_rules([crole, binding(alice)], "bob")
    assert allowed(user_rules([crole, binding(devs)], "bob", ("devs",)), "get", "", "pods", "", "a", "p")
    assert not allowed(user_rules([crole, binding(devs)], "bob", ("devs",)), "get", "", "pods", "", "b", "p")


def _attrs(method: str, path: str):
    r = request_attributes(method, path)
    return r.verb, r.group, r.resource, r.subresource, r.namespace, r.name


# ---------------------------------------------------------------- the shipped rules

EXPECTED_RULES = {
    # (apiGroup, resource, resourceNames) -> verbs
    ("iam.ssc-operator.dev", "servicespecificcredentials", ()): {"get", "list", "watch", "patch"},
    ("iam.ssc-operator.dev", "servicespecificcredentials/status", ()): {"patch"},
    ("", "secrets", ()): {"get", "list", "watch", "create", "update", "delete"},
    ("events.k8s.io", "events", ()): {"create"},
}
# The operator's records: cluster-scoped, so only a ClusterRole grants them (the main one, or with
# watchNamespaces one of their own). No watch, no patch.
RECORD_RULES = {
    ("iam.ssc-operator.dev", "credentialrecords", ()): {"get", "list", "create", "update", "delete"},
}
# The IAMIdentities: cluster-scoped too (a ClusterRole of their own with watchNamespaces). Read and
# watched; written through a merge patch of the status subresource only (as the resources' status).
IDENTITY_RULES = {
    ("iam.ssc-operator.dev", "iamidentities", ()): {"get", "list", "watch"},
    ("iam.ssc-operator.dev", "iamidentities/status", ()): {"patch"},
}
# The operator's ClusterRole (cluster-wide installs).
EXPECTED_CLUSTER_RULES = EXPECTED_RULES | RECORD_RULES | IDENTITY_RULES | {("", "namespaces", ()): {"get"}}
EXPECTED_LEASE_RULES = {
    ("coordination.k8s.io", "leases", ()): {"create"},
    ("coordination.k8s.io", "leases", ("ssc-operator",)): {"get", "update"},
}


def _flatten(rules: list[dict]) -> dict:
    out: dict = {}
    for r in rules:
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in r.get(key, []), f"wildcard in {r}"
        assert not r.get("nonResourceURLs"), r
        for g in r["apiGroups"]:
            for res in r["resources"]:
                key = (g, res, tuple(r.get("resourceNames") or ()))
                out.setdefault(key, set()).update(r["verbs"])
    return out


AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"


def _rbac_objects(objects):
    return [o for o in objects if o["apiVersion"].startswith("rbac.authorization.k8s.io/")]


def _aggregated(objects) -> dict:
    """The ClusterRoles aggregated into the built-in roles, by name."""
    return {o["metadata"]["name"]: o for o in _rbac_objects(objects) if o["kind"] == "ClusterRole"
            and any(k.startswith(AGGREGATE) for k in (o["metadata"].get("labels") or {}))}


def _cluster_namespaced(objects):
    """The operator's own RBAC objects by kind (the aggregated user-facing ClusterRoles left out)."""
    roles: dict = {k: [] for k in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")}
    aggregated = _aggregated(objects)
    for o in _rbac_objects(objects):
        if o["kind"] == "ClusterRole" and o["metadata"]["name"] in aggregated:
            continue
        roles.setdefault(o["kind"], []).append(o)
    return roles


def test_deploy_rules_are_exactly_the_operators_requests():
    objects = _rbac_objects(kustomize(DEPLOY))
    roles = _cluster_namespaced(objects)
    assert len(roles["ClusterRole"]) == 1 and len(roles["Role"]) == 1
    assert set(_aggregated(objects)) == {"ssc-operator-view", "ssc-operator-edit"}
    assert _flatten(roles["ClusterRole"][0]["rules"]) == EXPECTED_CLUSTER_RULES
    lease_role = roles["Role"][0]
    assert lease_role["metadata"]["namespace"] == SA_NS
    assert _flatten(lease_role["rules"]) == EXPECTED_LEASE_RULES


@pytest.fixture(scope="module")
def chart_default():
    return helm.render().objects


@pytest.fixture(scope="module")
def chart_watch_ns():
    return helm.render({"watchNamespaces": ["team-a", "team-b"]}).objects


@pytest.fixture(scope="module")
def chart_single():
    return helm.render({"leaderElection": {"enabled": False}, "replicaCount": 1}).objects


def test_chart_rules_default(chart_default):
    roles = _cluster_namespaced(chart_default)
    assert len(roles["ClusterRole"]) == 1 and len(roles["ClusterRoleBinding"]) == 1
    assert _flatten(roles["ClusterRole"][0]["rules"]) == EXPECTED_CLUSTER_RULES
    [lease_role] = roles["Role"]
    assert lease_role["metadata"]["namespace"] == SA_NS
    assert _flatten(lease_role["rules"]) == EXPECTED_LEASE_RULES


def _records_cluster_role(roles):
    """With watchNamespaces: the only cluster-wide grants, for the cluster-scoped kinds: the records
    and the IAMIdentities, each a ClusterRole of its own."""
    cluster_roles = {r["metadata"]["name"]: r for r in roles["ClusterRole"]}
    assert set(cluster_roles) == {"ssc-operator-records", "ssc-operator-identities"}
    assert _flatten(cluster_roles["ssc-operator-records"]["rules"]) == RECORD_RULES
    assert _flatten(cluster_roles["ssc-operator-identities"]["rules"]) == IDENTITY_RULES
    bindings = {b["roleRef"]["name"]: b for b in roles["ClusterRoleBinding"]}
    assert set(bindings) == set(cluster_roles)
    for name, binding in bindings.items():
        assert binding["metadata"]["name"] == name
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": SA, "namespace": SA_NS}]


def test_chart_rules_watch_namespace(chart_watch_ns):
    roles = _cluster_namespaced(chart_watch_ns)
    # No cluster-wide grant with watchNamespaces but the records and the identities (cluster-scoped: no
    # Role can grant them).
    _records_cluster_role(roles)
    # The user-facing aggregated roles stay (bound to nobody: they only add to view/edit/admin).
    assert set(_aggregated(chart_watch_ns)) == {"ssc-operator-view", "ssc-operator-edit"}
    by_ns = {r["metadata"]["namespace"]: r for r in roles["Role"]}
    assert set(by_ns) == {"team-a", "team-b", SA_NS}
    for ns in ("team-a", "team-b"):
        assert _flatten(by_ns[ns]["rules"]) == EXPECTED_RULES | {("", "namespaces", (ns,)): {"get"}}
    assert _flatten(by_ns[SA_NS]["rules"]) == EXPECTED_LEASE_RULES


def test_chart_without_leader_election_has_no_lease_rules(chart_single):
    rules = effective_rules(chart_single, SA_NS, SA)
    assert not any(allowed(rules, v, "coordination.k8s.io", "leases", "", SA_NS, "ssc-operator")
                   for v in ("get", "create", "update"))


# Requests the operator makes (design §5 and the agreed interface).
def operator_requests(watch_ns: str | None, tenant: str = "team-a"):
    ns_prefix = f"/namespaces/{watch_ns}" if watch_ns else ""
    yield "GET", f"{SSC}{ns_prefix}/servicespecificcredentials?limit=500"
    yield "GET", f"{SSC}{ns_prefix}/servicespecificcredentials?watch=true&resourceVersion=1"
    yield "GET", f"/api/v1{ns_prefix}/secrets?{MANAGED}"
    yield "GET", f"/api/v1{ns_prefix}/secrets?{MANAGED}&watch=true"
    yield "GET", f"{SSC}/namespaces/{tenant}/servicespecificcredentials/x"
    yield "PATCH", f"{SSC}/namespaces/{tenant}/servicespecificcredentials/x"
    yield "PATCH", f"{SSC}/namespaces/{tenant}/servicespecificcredentials/x/status"
    for method, suffix in (("GET", "/s"), ("POST", ""), ("PUT", "/s"), ("DELETE", "/s")):
        yield method, f"/api/v1/namespaces/{tenant}/secrets{suffix}"
    yield "GET", f"/api/v1/namespaces/{tenant}"
    yield "POST", f"/apis/events.k8s.io/v1/namespaces/{tenant}/events"
    yield "GET", f"{LEASES}/{SA_NS}/leases/ssc-operator"
    yield "POST", f"{LEASES}/{SA_NS}/leases"
    yield "PUT", f"{LEASES}/{SA_NS}/leases/ssc-operator"
    # The records: always cluster-scoped, also with --watch-namespace. (The sweep's other requests,
    # a resource by namespace/name, its namespace, Events, are among those above.)
    yield from record_requests()
    # The IAMIdentities: cluster-scoped as well.
    yield from identity_requests()


def identity_requests():
    """What the operator does with the IAMIdentities: list and watch them, read one, and report on it
    through a merge patch of its status subresource."""
    yield "GET", f"{IDENTITIES}?limit=500"
    yield "GET", f"{IDENTITIES}?watch=true&resourceVersion=1"
    yield "GET", f"{IDENTITIES}/analytics"
    yield "PATCH", f"{IDENTITIES}/analytics/status"


def identity_forbidden():
    """Beyond that: creating, changing, deleting an IAMIdentity (the platform team's), whose roleArn,
    allowedNamespaces and allowedUsers decide what a namespace may reach in AWS."""
    yield "POST", IDENTITIES
    yield "PUT", f"{IDENTITIES}/analytics"
    yield "PATCH", f"{IDENTITIES}/analytics"
    yield "DELETE", f"{IDENTITIES}/analytics"
    yield "DELETE", IDENTITIES
    # Its status is only ever patched (the recorded requests: tests/deploy/test_rbac_recorded.py).
    yield "PUT", f"{IDENTITIES}/analytics/status"


def record_requests():
    """What the operator does with its CredentialRecords: get by name, list (paged), create,
    update (PUT), delete; the epoch marker the same way."""
    yield "GET", f"{RECORDS}/0b1c2d3e-uid"
    yield "GET", f"{RECORDS}/ssc-operator-epoch"
    yield "GET", f"{RECORDS}?limit=500"
    yield "GET", f"{RECORDS}?limit=500&continue=eyJ2IjoxfQ%3D%3D"
    yield "POST", RECORDS
    yield "PUT", f"{RECORDS}/0b1c2d3e-uid"
    yield "DELETE", f"{RECORDS}/0b1c2d3e-uid"


def record_forbidden():
    """Beyond what the operator does with its records: watch, patch, deletecollection, a status
    subresource (the kind has none)."""
    yield "GET", f"{RECORDS}?watch=true"
    yield "GET", "/apis/iam.ssc-operator.dev/v1alpha1/watch/credentialrecords/x"
    yield "PATCH", f"{RECORDS}/0b1c2d3e-uid"
    yield "DELETE", RECORDS
    yield "PUT", f"{RECORDS}/0b1c2d3e-uid/status"


def forbidden_requests(watch_ns: str | None, tenant: str = "team-a"):
    yield "POST", f"{SSC}/namespaces/{tenant}/servicespecificcredentials"
    yield "PUT", f"{SSC}/namespaces/{tenant}/servicespecificcredentials/x"
    yield "DELETE", f"{SSC}/namespaces/{tenant}/servicespecificcredentials/x"
    yield "PUT", f"{SSC}/namespaces/{tenant}/servicespecificcredentials/x/status"
    yield "DELETE", f"/api/v1/namespaces/{tenant}/secrets"
    yield "PATCH", f"/api/v1/namespaces/{tenant}/secrets/s"
    yield "GET", f"/api/v1/namespaces/{tenant}/configmaps"
    yield "GET", f"/api/v1/namespaces/{tenant}/pods"
    yield "GET", "/api/v1/namespaces"
    yield "PATCH", f"/api/v1/namespaces/{tenant}"
    yield "POST", f"/api/v1/namespaces/{tenant}/events"
    yield "GET", "/apis/coordination.k8s.io/v1/leases"
    yield "GET", f"{LEASES}/{SA_NS}/leases/someone-else"
    yield "PUT", f"{LEASES}/{SA_NS}/leases/someone-else"
    yield "DELETE", f"{LEASES}/{SA_NS}/leases/ssc-operator"
    yield "PUT", f"{LEASES}/{tenant}/leases/ssc-operator"
    yield "POST", f"{LEASES}/{tenant}/leases"
    yield "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    yield "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
    yield from record_forbidden()
    yield from identity_forbidden()
    if watch_ns:
        yield "GET", "/api/v1/secrets?" + MANAGED
        yield "GET", f"{SSC}/servicespecificcredentials?watch=true"
        yield "GET", "/api/v1/namespaces/team-c/secrets/s"
        yield "GET", "/api/v1/namespaces/team-c"
        yield "PATCH", f"{SSC}/namespaces/team-c/servicespecificcredentials/x"


APPS = "/apis/apps/v1/namespaces"
WORKLOADS = ("deployments", "statefulsets", "daemonsets")


def rollout_requests(tenant: str = "team-a"):
    """A rollout restart of each kind a resource may name: one merge patch of its pod template."""
    for kind in WORKLOADS:
        yield "PATCH", f"{APPS}/{tenant}/{kind}/web"


def rollout_forbidden(tenant: str = "team-a"):
    """Beyond a rollout restart: reading, listing, creating, replacing, deleting, scaling, other kinds."""
    yield "GET", f"{APPS}/{tenant}/deployments/web"
    yield "GET", f"{APPS}/{tenant}/deployments"
    yield "GET", "/apis/apps/v1/deployments?watch=true"
    yield "POST", f"{APPS}/{tenant}/deployments"
    yield "PUT", f"{APPS}/{tenant}/deployments/web"
    yield "DELETE", f"{APPS}/{tenant}/statefulsets/web"
    yield "DELETE", f"{APPS}/{tenant}/daemonsets"
    yield "PATCH", f"{APPS}/{tenant}/deployments/web/scale"
    yield "PATCH", f"{APPS}/{tenant}/deployments/web/status"
    yield "PATCH", f"{APPS}/{tenant}/replicasets/web"
    yield "PATCH", f"{APPS}/{tenant}/controllerrevisions/web"
    yield "PATCH", f"/api/v1/namespaces/{tenant}/pods/web"
    yield "DELETE", f"/api/v1/namespaces/{tenant}/pods/web"
    yield "PATCH", f"/apis/batch/v1/namespaces/{tenant}/cronjobs/web"


def _check(objects, watch_namespaces, rollout_restart=False):
    rules = effective_rules(objects, SA_NS, SA)
    scopes = [(ns, ns) for ns in watch_namespaces] if watch_namespaces else [(None, "team-a")]
    needed = [r for ns, tenant in scopes for r in operator_requests(ns, tenant)]
    restarts = [r for _, tenant in scopes for r in rollout_requests(tenant)]
    if rollout_restart:
        needed += restarts
    denied = [(m, p) for m, p in needed if not allowed(rules, *_attrs(m, p))]
    assert not denied, f"the operator's requests are denied: {denied}"
    extra = [r for ns, tenant in scopes for r in forbidden_requests(ns, tenant)]
    extra += [r for _, tenant in scopes for r in rollout_forbidden(tenant)]
    if not rollout_restart:
        extra += restarts
    if watch_namespaces:
        extra += list(rollout_requests("team-c"))
    granted = [(m, p) for m, p in extra if allowed(rules, *_attrs(m, p))]
    assert not granted, f"more than the operator needs is granted: {granted}"


def test_deploy_allows_the_operators_requests_and_nothing_else():
    _check(kustomize(DEPLOY), None)


def test_chart_allows_the_operators_requests_and_nothing_else(chart_default):
    _check(chart_default, None)


@pytest.mark.parametrize("source", ["deploy-multi-account", "chart-identities", "chart-ambient-none"])
def test_identity_settings_change_no_rbac(source):
    """deploy/multi-account, and the chart with `identities` or ambientIdentity none, grant exactly
    what deploy/ and the default chart do: the operator needs the same requests either way."""
    objects = {"deploy-multi-account": lambda: kustomize(DEPLOY / "multi-account"),
               "chart-identities": lambda: helm.render({"identities": [
                   {"name": "analytics", "roleArn": "arn:aws:iam::210987654321:role/ssc-tenant-analytics",
                    "allowedNamespaces": {"names": ["team-a"]}}]}).objects,
               "chart-ambient-none": lambda: helm.render({"ambientIdentity": "none"}).objects}[source]()
    _check(objects, None)
    roles = _cluster_namespaced(_rbac_objects(objects))
    [role] = roles["ClusterRole"]
    assert _flatten(role["rules"]) == EXPECTED_CLUSTER_RULES


def test_chart_watch_namespaces_allow_only_those_namespaces(chart_watch_ns):
    _check(chart_watch_ns, ["team-a", "team-b"])


# ---------------------------------------------------------------- rollout restarts (opt-in)

ROLLOUT_RULES = {("apps", kind, ()): {"patch"} for kind in WORKLOADS}


def _apps_rules(objects):
    return [r for o in _rbac_objects(objects) for r in o.get("rules") or []
            if {"apps", "*"} & set(r.get("apiGroups") or [])]


@pytest.mark.parametrize("source", ["deploy", "chart", "chart-watch-namespaces", "deploy-emulator"])
def test_rollout_restart_rbac_is_off_by_default(source, chart_default, chart_watch_ns):
    objects = {"deploy": lambda: kustomize(DEPLOY), "chart": lambda: chart_default,
               "chart-watch-namespaces": lambda: chart_watch_ns,
               "deploy-emulator": lambda: kustomize(DEPLOY / "emulator")}[source]()
    assert not _apps_rules(objects), _apps_rules(objects)
    rules = effective_rules(objects, SA_NS, SA)
    assert not [r for r in rollout_requests() if allowed(rules, *_attrs(*r))]


@pytest.fixture(scope="module")
def chart_rollout():
    return helm.render({"rolloutRestart": {"enabled": True}}).objects


@pytest.fixture(scope="module")
def chart_rollout_watch_ns():
    return helm.render({"rolloutRestart": {"enabled": True}, "watchNamespaces": ["team-a", "team-b"]}).objects


@pytest.mark.parametrize("source", ["chart", "deploy-overlay"])
def test_rollout_restart_rbac(source, chart_rollout):
    objects = chart_rollout if source == "chart" else kustomize(DEPLOY / "rollout-restart")
    roles = {o["metadata"]["name"]: o for o in _rbac_objects(objects) if o["kind"] == "ClusterRole"}
    role = roles["ssc-operator-rollout-restart"]
    assert _flatten(role["rules"]) == ROLLOUT_RULES
    # The only apps rule anywhere; the operator's main ClusterRole is unchanged.
    assert _apps_rules(objects) == role["rules"]
    assert _flatten(roles["ssc-operator"]["rules"]) == EXPECTED_CLUSTER_RULES
    [binding] = [o for o in _rbac_objects(objects) if o["kind"] == "ClusterRoleBinding"
                 and o["roleRef"]["name"] == "ssc-operator-rollout-restart"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": SA, "namespace": SA_NS}]
    _check(objects, None, rollout_restart=True)


def test_rollout_restart_rbac_with_watch_namespaces(chart_rollout_watch_ns):
    roles = _cluster_namespaced(chart_rollout_watch_ns)
    _records_cluster_role(roles)
    rollout = {r["metadata"]["namespace"]: r for r in roles["Role"] if r["metadata"]["name"].endswith("-rollout-restart")}
    assert set(rollout) == {"team-a", "team-b"}
    for role in rollout.values():
        assert _flatten(role["rules"]) == ROLLOUT_RULES
    _check(chart_rollout_watch_ns, ["team-a", "team-b"], rollout_restart=True)


# ---------------------------------------------------------------- aggregated view/edit ClusterRoles

SSC_RES = ("iam.ssc-operator.dev", "servicespecificcredentials", ())
VIEW_VERBS = {"get", "list", "watch"}
EDIT_VERBS = VIEW_VERBS | {"create", "update", "patch", "delete", "deletecollection"}


@pytest.mark.parametrize("source", ["deploy", "chart"])
def test_aggregated_cluster_roles(source, chart_default):
    objects = kustomize(DEPLOY) if source == "deploy" else chart_default
    roles = _aggregated(objects)
    assert set(roles) == {"ssc-operator-view", "ssc-operator-edit"}
    view, edit = roles["ssc-operator-view"], roles["ssc-operator-edit"]
    agg = lambda o: {k: v for k, v in o["metadata"]["labels"].items() if k.startswith(AGGREGATE)}
    assert agg(view) == {AGGREGATE + "view": "true"}
    assert agg(edit) == {AGGREGATE + "edit": "true", AGGREGATE + "admin": "true"}
    assert _flatten(view["rules"]) == {SSC_RES: VIEW_VERBS}
    assert _flatten(edit["rules"]) == {SSC_RES: EDIT_VERBS}, "no status subresource: status is the operator's"
    referenced = {o["roleRef"]["name"] for o in _rbac_objects(objects) if "roleRef" in o}
    assert not referenced & set(roles), "bound to nobody: they only add to view, edit and admin"


def _with_namespace_users(objects):
    """The cluster's built-in roles (aggregated), and users bound in team-a as an admin would:
    alice edit, bob view, carol admin (through a group); dave nothing."""
    def binding(name, role, subject):
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": "team-a"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [subject | {"apiGroup": "rbac.authorization.k8s.io"}]}
    return aggregate(list(objects) + BUILTIN_AGGREGATED) + [
        binding("alice-edit", "edit", {"kind": "User", "name": "alice"}),
        binding("bob-view", "view", {"kind": "User", "name": "bob"}),
        binding("admins", "admin", {"kind": "Group", "name": "team-a-admins"}),
    ]


def _ssc(ns: str, suffix: str = "") -> str:
    return f"{SSC}/namespaces/{ns}/servicespecificcredentials{suffix}"


def ssc_reads(ns):
    yield "GET", _ssc(ns, "/x")
    yield "GET", _ssc(ns)
    yield "GET", _ssc(ns, "?watch=true")


def ssc_writes(ns):
    yield "POST", _ssc(ns)
    yield "PUT", _ssc(ns, "/x")
    yield "PATCH", _ssc(ns, "/x")
    yield "DELETE", _ssc(ns, "/x")
    yield "DELETE", _ssc(ns)


def ssc_status_writes(ns):
    yield "PATCH", _ssc(ns, "/x/status")
    yield "PUT", _ssc(ns, "/x/status")


@pytest.mark.parametrize("source", ["deploy", "chart"])
def test_namespace_editors_manage_the_kind_and_viewers_read_it(source, chart_default):
    objects = _with_namespace_users(kustomize(DEPLOY) if source == "deploy" else chart_default)
    users = {"alice": ((), True, True), "carol": (("team-a-admins",), True, True),
             "bob": ((), True, False), "dave": ((), False, False)}
    for user, (groups, may_read, may_write) in users.items():
        rules = user_rules(objects, user, groups)
        for m, p in ssc_reads("team-a"):
            assert allowed(rules, *_attrs(m, p)) is may_read, (user, m, p)
        for m, p in ssc_writes("team-a"):
            assert allowed(rules, *_attrs(m, p)) is may_write, (user, m, p)
        # Status is the operator's; and nothing in another namespace, nothing cluster-wide.
        for m, p in [*ssc_status_writes("team-a"), *ssc_reads("team-b"), *ssc_writes("team-b"),
                     ("GET", f"{SSC}/servicespecificcredentials")]:
            assert not allowed(rules, *_attrs(m, p)), (user, m, p)


def test_without_aggregated_roles_namespace_editors_get_nothing():
    objects = helm.render({"rbac": {"aggregateClusterRoles": False}}).objects
    assert not _aggregated(objects)
    rules = user_rules(_with_namespace_users(objects), "alice")
    assert not [r for r in [*ssc_reads("team-a"), *ssc_writes("team-a")] if allowed(rules, *_attrs(*r))]
    # The operator's own RBAC does not depend on it.
    _check(objects, None)


# ---------------------------------------------------------------- the operator's records: nobody else's

def _record_anything():
    """Every request on the records: what the operator does and everything beyond it."""
    yield from record_requests()
    yield from record_forbidden()


def _grants_records(rule: dict) -> bool:
    return any(rule_allows(rule, verb, "iam.ssc-operator.dev", "credentialrecords", "", "x")
               for verb in ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"))


@pytest.mark.parametrize("source", ["deploy", "chart", "chart-watch-namespaces"])
def test_no_aggregated_role_grants_the_records(source, chart_default, chart_watch_ns):
    """The records are the operator's proof of what it minted: view, edit and admin (which tenants
    get in their namespaces, and some users cluster-wide) must never include them."""
    objects = {"deploy": lambda: kustomize(DEPLOY), "chart": lambda: chart_default,
               "chart-watch-namespaces": lambda: chart_watch_ns}[source]()
    for name, role in _aggregated(objects).items():
        assert not [r for r in role["rules"] if _grants_records(r)], f"{name} grants credentialrecords"
    # Not even through aggregation, bound cluster-wide (a ClusterRoleBinding to the built-in admin).
    aggregated = aggregate(list(objects) + BUILTIN_AGGREGATED)
    builtin = {o["metadata"]["name"]: o for o in aggregated if o["metadata"]["name"] in ("view", "edit", "admin")}
    assert _flatten(builtin["admin"]["rules"]), "admin aggregates the chart's edit role"
    for name, role in builtin.items():
        assert not [r for r in role["rules"] if _grants_records(r)], f"built-in {name} reaches credentialrecords"
    bound = aggregated + [{
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": f"all-{n}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": n},
        "subjects": [{"kind": "User", "name": "auditor", "apiGroup": "rbac.authorization.k8s.io"}]}
        for n in ("view", "edit", "admin")]
    rules = user_rules(bound, "auditor")
    assert allowed(rules, *_attrs("GET", f"{SSC}/servicespecificcredentials")), "the admin binding works"
    assert not [r for r in _record_anything() if allowed(rules, *_attrs(*r))]
    # Nor do the users bound in a namespace (edit, view, admin through a group).
    users = _with_namespace_users(objects)
    for user, groups in (("alice", ()), ("bob", ()), ("carol", ("team-a-admins",)), ("dave", ())):
        rules = user_rules(users, user, groups)
        assert not [r for r in _record_anything() if allowed(rules, *_attrs(*r))], user


def _wildcard_tenant(objects, namespace: str = "team-a"):
    """A tenant with everything in its own namespace: a Role apiGroups/resources/verbs "*" (and
    the same as a ClusterRole bound there by a RoleBinding, as `admin`-like grants are)."""
    star = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    rbac = "rbac.authorization.k8s.io"
    return list(objects) + [
        {"apiVersion": f"{rbac}/v1", "kind": "Role", "metadata": {"name": "everything", "namespace": namespace},
         "rules": star},
        {"apiVersion": f"{rbac}/v1", "kind": "RoleBinding", "metadata": {"name": "mallory", "namespace": namespace},
         "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "everything"},
         "subjects": [{"kind": "User", "name": "mallory", "apiGroup": rbac}]},
        {"apiVersion": f"{rbac}/v1", "kind": "ClusterRole", "metadata": {"name": "star"}, "rules": star},
        {"apiVersion": f"{rbac}/v1", "kind": "RoleBinding", "metadata": {"name": "mallory-star", "namespace": namespace},
         "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "star"},
         "subjects": [{"kind": "User", "name": "mallory", "apiGroup": rbac}]},
    ]


@pytest.mark.parametrize("source", ["deploy", "chart", "chart-watch-namespaces"])
def test_a_namespace_wildcard_role_cannot_reach_the_records(source, chart_default, chart_watch_ns):
    """A RoleBinding never grants a cluster-scoped kind: a tenant with * in its namespace may write
    its resources' status (so status is no proof), but cannot read or write the records."""
    objects = {"deploy": lambda: kustomize(DEPLOY), "chart": lambda: chart_default,
               "chart-watch-namespaces": lambda: chart_watch_ns}[source]()
    rules = user_rules(_wildcard_tenant(objects), "mallory")
    # The wildcard works in its namespace: the resources, their status, Secrets.
    for m, p in [*ssc_writes("team-a"), *ssc_status_writes("team-a"), ("GET", "/api/v1/namespaces/team-a/secrets")]:
        assert allowed(rules, *_attrs(m, p)), (m, p)
    reached = [r for r in _record_anything() if allowed(rules, *_attrs(*r))]
    assert not reached, f"a namespace's wildcard Role reaches the records: {reached}"
    # The evaluator does see a cluster-wide grant of the same rules (so the check above can fail).
    crb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "m"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "star"},
           "subjects": [{"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}]}
    rules = user_rules(_wildcard_tenant(objects) + [crb], "mallory")
    assert all(allowed(rules, *_attrs(*r)) for r in _record_anything())


def _identity_anything():
    yield from identity_requests()
    yield from identity_forbidden()


def _grants_identities(rule: dict) -> bool:
    return any(rule_allows(rule, verb, "iam.ssc-operator.dev", "iamidentities", sub, "x")
               for verb in ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
               for sub in ("", "status"))


@pytest.mark.parametrize("source", ["deploy", "chart", "chart-watch-namespaces"])
def test_tenants_cannot_write_or_read_the_identities(source, chart_default, chart_watch_ns):
    """An IAMIdentity decides which AWS role (and account) a namespace's credentials are minted with:
    no aggregated role grants it, and a tenant with * in its own namespace (a Role, or a ClusterRole
    bound there) can neither create nor change one, nor write its status."""
    objects = {"deploy": lambda: kustomize(DEPLOY), "chart": lambda: chart_default,
               "chart-watch-namespaces": lambda: chart_watch_ns}[source]()
    for name, role in _aggregated(objects).items():
        assert not [r for r in role["rules"] if _grants_identities(r)], f"{name} grants iamidentities"
    aggregated = aggregate(list(objects) + BUILTIN_AGGREGATED)
    for role in aggregated:
        if role["metadata"]["name"] in ("view", "edit", "admin"):
            assert not [r for r in role["rules"] if _grants_identities(r)], role["metadata"]["name"]
    rules = user_rules(_wildcard_tenant(objects), "mallory")
    reached = [r for r in _identity_anything() if allowed(rules, *_attrs(*r))]
    assert not reached, f"a namespace's wildcard Role reaches the identities: {reached}"
    users = _with_namespace_users(objects)
    for user, groups in (("alice", ()), ("bob", ()), ("carol", ("team-a-admins",)), ("dave", ())):
        rules = user_rules(users, user, groups)
        assert not [r for r in _identity_anything() if allowed(rules, *_attrs(*r))], user


def test_only_the_operator_is_bound_to_the_identities():
    """Whatever grants the IAMIdentities in a shipped variant is a ClusterRoleBinding of the operator's
    ServiceAccount, and it never lets the operator write an identity, only its status."""
    variants = {"deploy": kustomize(DEPLOY), "deploy-multi-account": kustomize(DEPLOY / "multi-account"),
                "chart": helm.render().objects,
                "chart-watch-namespaces": helm.render({"watchNamespaces": ["team-a"]}).objects}
    for name, objects in variants.items():
        roles = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o.get("rules") or []
                 for o in _rbac_objects(objects) if o["kind"] in ("Role", "ClusterRole")}
        granting = [o for o in _rbac_objects(objects) if "roleRef" in o and any(
            _grants_identities(r) for r in roles.get(
                (o["roleRef"]["kind"], o["metadata"].get("namespace", "") if o["roleRef"]["kind"] == "Role" else "",
                 o["roleRef"]["name"]), []))]
        assert granting, f"{name}: nothing grants the operator the identities"
        for b in granting:
            assert b["kind"] == "ClusterRoleBinding", f"{name}: {b['metadata']['name']}"
            assert b["subjects"] == [{"kind": "ServiceAccount", "name": SA, "namespace": SA_NS}], (name, b)
        rules = effective_rules(objects, SA_NS, SA)
        assert all(allowed(rules, *_attrs(*r)) for r in identity_requests()), name
        assert not [r for r in identity_forbidden() if allowed(rules, *_attrs(*r))], name
        assert not [k for k, rules_ in roles.items() if k[0] == "Role" and any(_grants_identities(r) for r in rules_)]


def test_only_the_operator_is_bound_to_the_records():
    """In every shipped variant, the subjects of any binding that grants the records are the
    operator's ServiceAccount and nobody else."""
    variants = {"deploy": kustomize(DEPLOY), "deploy-rollout-restart": kustomize(DEPLOY / "rollout-restart"),
                "deploy-emulator": kustomize(DEPLOY / "emulator"),
                "deploy-multi-account": kustomize(DEPLOY / "multi-account"), "chart": helm.render().objects,
                "chart-watch-namespaces": helm.render({"watchNamespaces": ["team-a"]}).objects}
    for name, objects in variants.items():
        roles = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o.get("rules") or []
                 for o in _rbac_objects(objects) if o["kind"] in ("Role", "ClusterRole")}
        granting = [o for o in _rbac_objects(objects) if "roleRef" in o and any(
            _grants_records(r) for r in roles.get(
                (o["roleRef"]["kind"], o["metadata"].get("namespace", "") if o["roleRef"]["kind"] == "Role" else "",
                 o["roleRef"]["name"]), []))]
        assert granting, f"{name}: nothing grants the operator its records"
        for b in granting:
            assert b["kind"] == "ClusterRoleBinding", f"{name}: {b['metadata']['name']} (a RoleBinding grants nothing)"
            assert b["subjects"] == [{"kind": "ServiceAccount", "name": SA, "namespace": SA_NS}], (name, b)
        # No namespaced Role carries a (useless, misleading) records rule.
        assert not [k for k, rules in roles.items() if k[0] == "Role" and any(_grants_records(r) for r in rules)]
