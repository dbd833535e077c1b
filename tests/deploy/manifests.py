"""Shared helpers of the deploy tests: build manifests, assert hardening."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART = ROOT / "charts" / "ssc-operator"
IMAGE = "ghcr.io/ssc-operator/ssc-operator:0.1.0"
UID = 65532

# Kubernetes versions whose OpenAPI schemas (kubernetes-validate, strict: no
# unknown fields) every object must satisfy: the chart's minimum and a current one.
K8S_VERSIONS = ("1.25", "1.33")
# Kinds without a schema in kubernetes-validate (CRD-defined elsewhere). The project's own kinds
# are checked against their generated CRDs instead (crd_schema, validate_against_crd).
NO_SCHEMA_KINDS = {"ServiceMonitor", "PrometheusRule", "IAMIdentity", "ServiceSpecificCredential"}
CRDS = ROOT / "crds"


def kubectl() -> str:
    path = shutil.which("kubectl")
    assert path, "kubectl is needed (it is part of this project's machine image: apt package kubectl)"
    return path


def kustomize(directory: Path) -> list[dict]:
    out = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True)
    assert out.returncode == 0, f"kubectl kustomize {directory} failed:\n{out.stderr}"
    return parse_all(out.stdout)


def parse_all(text: str) -> list[dict]:
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    for d in docs:
        assert isinstance(d, dict), f"not an object: {d!r}"
        for key in ("apiVersion", "kind", "metadata"):
            assert key in d, f"{key} missing in {d}"
        assert d["metadata"].get("name"), f"unnamed object {d}"
    return docs


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict], kind: str, name: str) -> dict:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def validate_schemas(objects: list[dict]) -> None:
    import kubernetes_validate as kv  # noqa: PLC0415

    for o in objects:
        if o["kind"] in NO_SCHEMA_KINDS:
            continue
        for version in K8S_VERSIONS:
            try:
                kv.validate(o, version, strict=True)
            except kv.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                raise AssertionError(
                    f"{o['kind']}/{o['metadata']['name']} invalid for Kubernetes {version}: {path}: {e.message}"
                ) from None


def container(pod_spec: dict, name: str) -> dict:
    found = [c for c in pod_spec["containers"] if c["name"] == name]
    assert len(found) == 1, f"container {name} not found"
    return found[0]


def assert_hardened(deployment: dict, container_name: str, fixed_uid: bool = True) -> None:
    """The security settings every pod of this project carries. fixed_uid=False: the
    OpenShift variant, where the SCC assigns UID, GID and fsGroup, so none is set."""
    spec = deployment["spec"]["template"]["spec"]
    psc = spec["securityContext"]
    assert psc["runAsNonRoot"] is True
    if fixed_uid:
        assert psc["runAsUser"] == UID
        assert psc["runAsGroup"] == UID
        assert psc["fsGroup"] == UID
    else:
        for key in ("runAsUser", "runAsGroup", "fsGroup"):
            assert key not in psc, f"pod securityContext.{key} is set: OpenShift's restricted SCC rejects it"
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in spec and "hostPID" not in spec and "hostIPC" not in spec
    for c in spec["containers"] + spec.get("initContainers", []):
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True, c["name"]
        if fixed_uid:
            assert sc["runAsUser"] == UID, c["name"]
        else:
            assert "runAsUser" not in sc and "runAsGroup" not in sc, c["name"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc.get("privileged", False) is False, c["name"]
        assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
        assert not sc["capabilities"].get("add"), c["name"]
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, c["name"]
        res = c["resources"]
        for kind in ("requests", "limits"):
            assert res[kind]["cpu"] and res[kind]["memory"], f"{c['name']}: resources.{kind}"
    c = container(spec, container_name)
    assert c["image"], "image"
    assert c["livenessProbe"]["httpGet"]["port"] == "http"
    assert c["readinessProbe"]["httpGet"]["port"] == "http"
    assert any(p["name"] == "http" for p in c["ports"])


def assert_operator_pod(deployment: dict, port: int = 8080, fixed_uid: bool = True) -> dict:
    """Operator-specific: probes, port, downward API, token, grace period. Returns the container."""
    assert_hardened(deployment, "manager", fixed_uid)
    spec = deployment["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is True
    assert spec["terminationGracePeriodSeconds"] >= 30
    c = container(spec, "manager")
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    env = {e["name"]: e for e in c.get("env", [])}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    # Selector labels must select the pod template.
    sel = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert sel.items() <= labels.items()
    return c


def env_map(c: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def crd_schema(kind: str) -> dict:
    """The openAPIV3Schema (v1alpha1) of the project's generated CRD (crds/) for `kind`; fails
    with how to make it when crds/ has no CRD of that kind yet."""
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        if crd.get("spec", {}).get("names", {}).get("kind") == kind:
            [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
            return version["schema"]["openAPIV3Schema"]
    raise AssertionError(f"crds/ has no CRD of kind {kind}: generate crds/ with `ssc-operator crd` "
                         "and run deploy/sync-crds.sh")


def validate_against_crd(o: dict) -> None:
    """An object of one of the project's kinds against its CRD's structural schema (types, enums,
    patterns, bounds, required fields, unknown fields: a structural schema prunes them, so they are
    refused here). CEL rules (x-kubernetes-validations) are the API server's and not checked."""
    import jsonschema  # noqa: PLC0415

    schema = _closed(crd_schema(o["kind"]))
    body = {k: v for k, v in o.items() if k not in ("apiVersion", "kind", "metadata")}
    try:
        jsonschema.validate(body, schema)
    except jsonschema.ValidationError as e:
        path = ".".join(str(p) for p in e.absolute_path)
        raise AssertionError(f"{o['kind']}/{o['metadata']['name']} invalid for its CRD: {path}: {e.message}") from None


def _closed(schema):
    """An OpenAPI v3 structural schema as JSON Schema: objects with `properties` and no
    `additionalProperties` get additionalProperties: false (the API server prunes unknown fields,
    which in a manifest is a mistake); `nullable` allows null."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {k: _closed(v) for k, v in out["properties"].items()}
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _closed(out["additionalProperties"])
    if "items" in out:
        out["items"] = _closed(out["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in out:
            out[key] = [_closed(s) for s in out[key]]
    if "properties" in out and "additionalProperties" not in out \
            and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if out.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out
