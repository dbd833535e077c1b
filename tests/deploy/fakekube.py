"""A minimal stand-in for kube-apiserver, on loopback, for offline install tests.

It serves what a client needs to *apply* manifests: /version, legacy discovery
(/api, /apis, /api/v1, /apis/GROUP/VERSION) for the kinds this project ships,
404 for every object GET, an empty list for collection GETs, and 201 echoing
the object for creates (PUT/PATCH echo too). Every write is recorded.

Helm (helm-sdkpy has no `template` action) installs a chart against it, which
renders the chart exactly as `helm install` would (schema validation, `fail`,
kubeVersion, CRDs); kubectl applies deploy/ against it. It is not a general
Kubernetes API server: no storage, no validation of object bodies.
"""

from __future__ import annotations

import http.server
import json
import os
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

# group -> (version, [(plural, Kind, namespaced)])
RESOURCES: dict[str, tuple[str, list[tuple[str, str, bool]]]] = {
    "": ("v1", [
        ("namespaces", "Namespace", False),
        ("serviceaccounts", "ServiceAccount", True),
        ("services", "Service", True),
        ("secrets", "Secret", True),
        ("configmaps", "ConfigMap", True),
        ("persistentvolumeclaims", "PersistentVolumeClaim", True),
        ("pods", "Pod", True),
    ]),
    "apps": ("v1", [("deployments", "Deployment", True)]),
    "rbac.authorization.k8s.io": ("v1", [
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
    ]),
    "policy": ("v1", [("poddisruptionbudgets", "PodDisruptionBudget", True)]),
    "networking.k8s.io": ("v1", [("networkpolicies", "NetworkPolicy", True)]),
    "coordination.k8s.io": ("v1", [("leases", "Lease", True)]),
    "events.k8s.io": ("v1", [("events", "Event", True)]),
    "apiextensions.k8s.io": ("v1", [("customresourcedefinitions", "CustomResourceDefinition", False)]),
    "monitoring.coreos.com": ("v1", [("servicemonitors", "ServiceMonitor", True),
                                     ("prometheusrules", "PrometheusRule", True)]),
    "iam.ssc-operator.dev": ("v1alpha1", [("servicespecificcredentials", "ServiceSpecificCredential", True),
                                          ("credentialrecords", "CredentialRecord", False),
                                          ("iamidentities", "IAMIdentity", False)]),
}


@dataclass
class Write:
    method: str
    path: str
    content_type: str
    body: dict | None  # None when not JSON (Helm's release Secret is protobuf)


@dataclass
class FakeKube:
    server_version: tuple[str, str] = ("1", "33")
    writes: list[Write] = field(default_factory=list)
    # More API groups to serve, group -> (version, resources), e.g. OpenShift's security.openshift.io.
    extra_groups: dict[str, tuple[str, list[tuple[str, str, bool]]]] = field(default_factory=dict)

    def __post_init__(self):
        self._lock = threading.Lock()
        handler = _handler(self)
        self._srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)
        self._dir = tempfile.mkdtemp(prefix="fakekube-")
        self.kubeconfig = os.path.join(self._dir, "kubeconfig")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._srv.server_address[1]}"

    def __enter__(self) -> "FakeKube":
        self._thread.start()
        with open(self.kubeconfig, "w") as f:
            f.write(
                "apiVersion: v1\nkind: Config\n"
                f"clusters: [{{name: fake, cluster: {{server: '{self.url}'}}}}]\n"
                "users: [{name: fake, user: {token: fake}}]\n"
                "contexts: [{name: fake, context: {cluster: fake, user: fake, namespace: default}}]\n"
                "current-context: fake\n"
            )
        return self

    def __exit__(self, *exc) -> None:
        self._srv.shutdown()
        self._srv.server_close()

    def created_objects(self) -> list[dict]:
        """JSON bodies of POSTs (creates), in order, Helm's own release storage excluded."""
        with self._lock:
            return [w.body for w in self.writes
                    if w.method == "POST" and w.body is not None
                    and not (w.body.get("kind") == "Secret"
                             and w.body.get("metadata", {}).get("labels", {}).get("owner") == "helm")]

    def resources(self) -> dict:
        return RESOURCES | self.extra_groups

    def record(self, w: Write) -> None:
        with self._lock:
            self.writes.append(w)


def _discovery(path: str, fake: FakeKube):
    if path == "/version":
        major, minor = fake.server_version
        return {"major": major, "minor": minor, "gitVersion": f"v{major}.{minor}.0",
                "platform": "linux/amd64", "goVersion": "go1.24.0", "compiler": "gc"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
    if path == "/apis":
        groups = []
        for g, (v, _) in fake.resources().items():
            if g:
                gv = {"groupVersion": f"{g}/{v}", "version": v}
                groups.append({"name": g, "versions": [gv], "preferredVersion": gv})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    for g, (v, res) in fake.resources().items():
        if path == (f"/apis/{g}/{v}" if g else f"/api/{v}"):
            return {"kind": "APIResourceList", "apiVersion": "v1",
                    "groupVersion": f"{g}/{v}" if g else v,
                    "resources": [{"name": n, "singularName": k.lower(), "namespaced": ns, "kind": k,
                                   "verbs": VERBS} for n, k, ns in res]}
    return None


def _is_collection(path: str) -> bool:
    parts = [p for p in path.split("/") if p]
    # /api/v1/RES, /api/v1/namespaces/NS/RES, /apis/G/V/RES, /apis/G/V/namespaces/NS/RES
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        rest = rest[2:]
    return len(rest) == 1


def _handler(fake: FakeKube):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _not_found(self, path: str) -> None:
            name = path.rstrip("/").rsplit("/", 1)[-1]
            self._send(404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": f'"{name}" not found', "reason": "NotFound",
                             "details": {"name": name}, "code": 404})

        def do_GET(self):
            url = urlsplit(self.path)
            doc = _discovery(url.path, fake)
            if doc is not None:
                return self._send(200, doc)
            if "watch" in parse_qs(url.query):
                return self._send(200, {})
            if _is_collection(url.path):
                return self._send(200, {"kind": "List", "apiVersion": "v1",
                                        "metadata": {"resourceVersion": "1"}, "items": []})
            return self._not_found(url.path)

        def _write(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n)
            ctype = self.headers.get("Content-Type", "")
            body = None
            if "json" in ctype or "yaml" in ctype:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
            fake.record(Write(self.command, urlsplit(self.path).path, ctype, body))
            if body is None or "patch" in ctype:
                name = urlsplit(self.path).path.rstrip("/").rsplit("/", 1)[-1]
                body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}
            meta = body.setdefault("metadata", {})
            meta.setdefault("uid", str(uuid.uuid4()))
            meta["resourceVersion"] = "1"
            meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
            if body.get("kind") == "CustomResourceDefinition":
                body["status"] = {"conditions": [
                    {"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}]}
            self._send(201 if self.command == "POST" else 200, body)

        do_POST = _write
        do_PUT = _write
        do_PATCH = _write

        def do_DELETE(self):
            self._not_found(urlsplit(self.path).path)

    return Handler
