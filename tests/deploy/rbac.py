"""Kubernetes RBAC authorization, as kube-apiserver's RBAC authorizer does it.

- `rule_allows(rule, verb, group, resource, subresource, name)`: one PolicyRule
  (k8s.io/component-helpers/auth/rbac/validation: VerbMatches, APIGroupMatches,
  ResourceMatches, ResourceNameMatches).
- `allowed(rules, verb, group, resource, subresource, namespace, name)`: any of
  `rules` allows the request. A rule is a PolicyRule dict (granted cluster-wide,
  as through a ClusterRoleBinding) or a `Scoped(namespace, rule)` (granted
  through a RoleBinding: only for requests in that namespace).
- `effective_rules(objects, sa_namespace, sa_name)`: the rules that the
  (Cluster)Roles and bindings among `objects` grant to a ServiceAccount;
  `user_rules(objects, user, groups)` the same for a User.
- `aggregate(objects)`: the ClusterRoles with an aggregationRule filled in, as
  kube-controller-manager's clusterrole-aggregation controller does;
  `BUILTIN_AGGREGATED` are kube-apiserver's view, edit and admin (their own
  rules left out: only what is aggregated into them).
- `request_attributes(method, path)`: verb/group/resource/subresource/namespace/
  name of an HTTP request, as the API server's RequestInfoFactory derives them
  (so recorded requests can be replayed against the rules).

Resource requests only (no nonResourceURLs: /version, /healthz and discovery
are granted to every authenticated user by system:discovery/public-info-viewer).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

__all__ = ["BUILTIN_AGGREGATED", "Request", "Scoped", "aggregate", "allowed", "effective_rules",
           "label_selector_matches", "request_attributes", "rule_allows", "user_rules"]


@dataclass(frozen=True)
class Scoped:
    """A rule granted by a RoleBinding: it applies only inside `namespace`."""

    namespace: str
    rule: dict


@dataclass(frozen=True)
class Request:
    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str


def _has(values, wanted: str) -> bool:
    return "*" in values or wanted in values


def rule_allows(rule: dict, verb: str, group: str, resource: str, subresource: str = "", name: str = "") -> bool:
    if rule.get("nonResourceURLs") and not rule.get("resources"):
        return False
    if not _has(rule.get("verbs") or [], verb):
        return False
    if not _has(rule.get("apiGroups") or [], group):
        return False
    combined = f"{resource}/{subresource}" if subresource else resource
    resources_ok = False
    for r in rule.get("resources") or []:
        if r == "*" or r == combined or (subresource and r.startswith("*/") and r[2:] == subresource):
            resources_ok = True
            break
    if not resources_ok:
        return False
    names = rule.get("resourceNames") or []
    return not names or name in names


def allowed(rules, verb: str, group: str, resource: str, subresource: str = "", namespace: str = "",
            name: str = "") -> bool:
    """True when one of `rules` (PolicyRule dicts or Scoped) allows the request.

    `namespace` is the request's namespace as the authorizer sees it: "" for
    cluster-scoped requests and for requests across all namespaces; for the
    Namespace object itself (GET /api/v1/namespaces/NAME) it is NAME.
    """
    for r in rules:
        if isinstance(r, Scoped):
            if not namespace or r.namespace != namespace:
                continue
            r = r.rule
        if rule_allows(r, verb, group, resource, subresource, name):
            return True
    return False


def _subject_matches(subject: dict, binding_ns: str, sa_namespace: str, sa_name: str) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return subject.get("name") == sa_name and ns == sa_namespace
    if kind == "Group":
        return subject.get("name") in (
            "system:authenticated", "system:serviceaccounts", f"system:serviceaccounts:{sa_namespace}")
    if kind == "User":
        return subject.get("name") == f"system:serviceaccount:{sa_namespace}:{sa_name}"
    return False


def effective_rules(objects: list[dict], sa_namespace: str, sa_name: str) -> list:
    """Rules that the RBAC objects in `objects` grant to ServiceAccount sa_namespace/sa_name."""
    return _granted(objects, lambda s, binding_ns: _subject_matches(s, binding_ns, sa_namespace, sa_name))


def user_rules(objects: list[dict], user: str, groups: tuple[str, ...] = ()) -> list:
    """Rules that the RBAC objects in `objects` grant to User `user` (member of `groups`,
    and of system:authenticated)."""
    member = set(groups) | {"system:authenticated"}

    def matches(s: dict, _binding_ns: str) -> bool:
        return (s.get("kind") == "User" and s.get("name") == user) or \
            (s.get("kind") == "Group" and s.get("name") in member)
    return _granted(objects, matches)


def _granted(objects: list[dict], matches) -> list:
    roles = {}
    cluster_roles = {}
    for o in objects:
        if o.get("apiVersion", "").split("/")[0] != "rbac.authorization.k8s.io":
            continue
        meta = o.get("metadata", {})
        if o["kind"] == "Role":
            roles[(meta.get("namespace", ""), meta["name"])] = o.get("rules") or []
        elif o["kind"] == "ClusterRole":
            cluster_roles[meta["name"]] = o.get("rules") or []
    out: list = []
    for o in objects:
        if o.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        meta = o.get("metadata", {})
        ns = meta.get("namespace", "")
        if not any(matches(s, ns) for s in o.get("subjects") or []):
            continue
        ref = o["roleRef"]
        if ref["kind"] == "ClusterRole":
            rules = cluster_roles.get(ref["name"])
        elif o["kind"] == "RoleBinding":
            rules = roles.get((ns, ref["name"]))
        else:
            rules = None  # a ClusterRoleBinding cannot reference a Role
        if rules is None:
            continue  # dangling reference: grants nothing
        if o["kind"] == "ClusterRoleBinding":
            out.extend(rules)
        else:
            out.extend(Scoped(ns, r) for r in rules)
    return out


def label_selector_matches(selector: dict, labels: dict) -> bool:
    """A metav1.LabelSelector (matchLabels, matchExpressions) against labels. An empty
    selector matches everything (as in an aggregationRule, where it selects all)."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _cluster_role(name: str, labels: dict, aggregate_to: str) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels},
            "aggregationRule": {"clusterRoleSelectors": [
                {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{aggregate_to}": "true"}}]},
            "rules": []}


# kube-apiserver's user-facing roles: admin aggregates aggregate-to-admin (edit carries it), edit
# aggregates aggregate-to-edit (view carries it), view aggregates aggregate-to-view.
BUILTIN_AGGREGATED = [
    _cluster_role("admin", {"kubernetes.io/bootstrapping": "rbac-defaults"}, "admin"),
    _cluster_role("edit", {"kubernetes.io/bootstrapping": "rbac-defaults",
                           "rbac.authorization.k8s.io/aggregate-to-admin": "true"}, "edit"),
    _cluster_role("view", {"kubernetes.io/bootstrapping": "rbac-defaults",
                           "rbac.authorization.k8s.io/aggregate-to-edit": "true"}, "view"),
]


def aggregate(objects: list[dict]) -> list[dict]:
    """`objects` with each aggregating ClusterRole's rules set to the union of the rules of the
    ClusterRoles its selectors match (repeated until nothing changes, as the controller
    converges: view's rules reach edit, edit's reach admin)."""
    out = [dict(o) for o in objects]
    roles = [o for o in out if o.get("kind") == "ClusterRole"]
    changed = True
    while changed:
        changed = False
        for agg in roles:
            selectors = (agg.get("aggregationRule") or {}).get("clusterRoleSelectors")
            if not selectors:
                continue
            rules = []
            for other in roles:
                if other is agg:
                    continue
                labels = other["metadata"].get("labels") or {}
                if any(label_selector_matches(s, labels) for s in selectors):
                    rules.extend(r for r in other.get("rules") or [] if r not in rules)
            if rules != (agg.get("rules") or []):
                agg["rules"] = rules
                changed = True
    return out


# Subresources of a namespace object (/api/v1/namespaces/NAME/status|finalize),
# as opposed to resources inside the namespace.
_NAMESPACE_SUBRESOURCES = {"status", "finalize"}


def request_attributes(method: str, path_and_query: str) -> Request:
    """The authorizer's view of a resource request (k8s.io/apiserver RequestInfoFactory)."""
    url = urlsplit(path_and_query)
    query = parse_qs(url.query)
    parts = [p for p in url.path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        raise ValueError(f"not a resource request: {path_and_query}")
    if not rest:
        raise ValueError(f"discovery, not a resource request: {path_and_query}")

    verb = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete"}[method.upper()]
    # /apis/G/V/watch/... (deprecated watch paths)
    if rest[0] == "watch":
        verb, rest = "watch", rest[1:]

    namespace = ""
    if rest[0] == "namespaces":
        if len(rest) > 1:
            namespace = rest[1]
            if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
                rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 else ""

    # No name and a GET: list or watch; a fieldSelector metadata.name=X names the object
    # (so resourceNames rules can allow it). With a name in the path, ?watch is ignored.
    if not name and verb == "get":
        verb = "watch" if query.get("watch", [""])[0].lower() in ("1", "true") else "list"
        for selector in query.get("fieldSelector", []):
            terms = [t.strip() for t in selector.split(",")]
            exact = [t.split("=", 1)[1].lstrip("=") for t in terms
                     if t.startswith("metadata.name=") or t.startswith("metadata.name==")]
            if len(exact) == 1:
                name = exact[0]
    if not name and verb == "delete":
        verb = "deletecollection"
    return Request(verb, group, resource, subresource, namespace, name)
