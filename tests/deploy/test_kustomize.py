"""deploy/: kustomize builds, every object valid, the Deployments hardened, and
`kubectl apply -f crds/ -f deploy/` / `kubectl apply -k ...` accepted."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from fakekube import FakeKube
from manifests import (
    DEPLOY, IMAGE, ROOT, assert_hardened, assert_operator_pod, by_kind, container, env_map, kubectl,
    kustomize, one, parse_all, validate_schemas,
)

NS = "ssc-system"
EMULATOR_URL = "http://ssc-iam-emulator.ssc-system.svc:9600"


@pytest.fixture(scope="module")
def base():
    return kustomize(DEPLOY)


@pytest.fixture(scope="module")
def emulator():
    return kustomize(DEPLOY / "emulator")


@pytest.fixture(scope="module")
def persistent():
    return kustomize(DEPLOY / "emulator-persistent")


OVERLAYS = ["emulator", "emulator-persistent", "rollout-restart", "multi-account"]
# The CRDs deploy/crds holds: one per generated file of crds/ (test_crds.py checks the copies and the set).
CRD_NAMES = sorted(yaml.safe_load(p.read_text())["metadata"]["name"] for p in (ROOT / "crds").glob("*.yaml"))


def test_every_overlay_is_tested():
    """Each directory of deploy/ with a kustomization.yaml is an overlay these tests build and apply."""
    found = sorted(p.parent.name for p in DEPLOY.glob("*/kustomization.yaml"))
    assert found == sorted(["base", "crds", *OVERLAYS]), found


@pytest.mark.parametrize("overlay", ["", "base", "crds", *OVERLAYS])
def test_builds_and_every_object_is_schema_valid(overlay):
    objects = kustomize(DEPLOY / overlay)
    assert objects
    validate_schemas(objects)
    keys = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]
    assert len(keys) == len(set(keys)), "duplicate objects"


def test_base_objects(base):
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in base)
    assert kinds == sorted([
        *(("CustomResourceDefinition", name) for name in CRD_NAMES),
        ("Namespace", NS),
        ("ServiceAccount", "ssc-operator"),
        ("ClusterRole", "ssc-operator"),
        ("ClusterRoleBinding", "ssc-operator"),
        ("ClusterRole", "ssc-operator-view"),
        ("ClusterRole", "ssc-operator-edit"),
        ("Role", "ssc-operator-leader-election"),
        ("RoleBinding", "ssc-operator-leader-election"),
        ("Deployment", "ssc-operator"),
        ("Service", "ssc-operator-metrics"),
        ("PodDisruptionBudget", "ssc-operator"),
    ])
    for o in base:
        if o["kind"] not in ("CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert o["metadata"]["namespace"] == NS, o["metadata"]["name"]


def test_operator_deployment(base):
    d = one(base, "Deployment", "ssc-operator")
    assert d["spec"]["replicas"] == 2
    c = assert_operator_pod(d)
    spec = d["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "ssc-operator"
    assert c["image"] == IMAGE
    assert c["args"] == ["run"]
    assert c["resources"] == {"requests": {"cpu": "50m", "memory": "64Mi"},
                              "limits": {"cpu": "500m", "memory": "256Mi"}}
    env = env_map(c)
    assert env["SSC_POLICY"] == "enforcing"
    assert env["SSC_LEADER_ELECT"] == "true"
    assert env["SSC_LEASE_NAME"] == "ssc-operator"
    assert env["SSC_HTTP_ADDR"] == "0.0.0.0:8080"
    assert env["SSC_LOG_FORMAT"] == "json"
    assert env["SSC_IAM_RATE_LIMIT"] == "5" and env["SSC_IAM_BURST"] == "10"
    assert env["SSC_REVOCATION"] == "deactivate" and env["SSC_ORPHAN_GRACE"] == "5m"
    assert "SSC_IAM_ENDPOINT_URL" not in env and "AWS_ACCESS_KEY_ID" not in env
    # Rolling updates never drop below the current replica count.
    assert d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_lease_name_matches_role(base):
    env = env_map(container(one(base, "Deployment", "ssc-operator")["spec"]["template"]["spec"], "manager"))
    role = one(base, "Role", "ssc-operator-leader-election")
    named = [r for r in role["rules"] if r.get("resourceNames")]
    assert named and all(r["resourceNames"] == [env["SSC_LEASE_NAME"]] for r in named)


def _selects(selector: dict, deployment: dict) -> bool:
    return selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_metrics_service_and_pdb_select_the_operator(base):
    d = one(base, "Deployment", "ssc-operator")
    svc = one(base, "Service", "ssc-operator-metrics")
    assert _selects(svc["spec"]["selector"], d)
    assert svc["spec"]["ports"] == [{"name": "metrics", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    pdb = one(base, "PodDisruptionBudget", "ssc-operator")
    assert _selects(pdb["spec"]["selector"]["matchLabels"], d)
    assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]


def test_rendered_manifest_is_current():
    """deploy/ssc-operator.yaml (for kubectl apply -f deploy/) is deploy/render.sh's output."""
    committed = parse_all((DEPLOY / "ssc-operator.yaml").read_text())
    assert committed == kustomize(DEPLOY / "base"), "deploy/ssc-operator.yaml is stale: run deploy/render.sh"


def test_no_kustomization_yaml_in_deploy_root():
    # kubectl apply -f deploy/ reads every *.yaml there; a kustomization.yaml would fail it.
    assert not list(DEPLOY.glob("kustomization.y*ml"))
    assert (DEPLOY / "Kustomization").is_file()


def test_emulator_overlay_points_the_operator_at_the_emulator(emulator):
    d = one(emulator, "Deployment", "ssc-operator")
    c = assert_operator_pod(d)
    env = env_map(c)
    assert env["SSC_IAM_ENDPOINT_URL"] == EMULATOR_URL
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert env["SSC_AWS_REGION"]
    assert [e["name"] for e in c["env"]].count("SSC_POLICY") == 1
    # The URL names the emulator Service.
    svc = one(emulator, "Service", "ssc-iam-emulator")
    assert svc["metadata"]["namespace"] == NS
    assert svc["spec"]["ports"][0]["port"] == 9600
    em = one(emulator, "Deployment", "ssc-iam-emulator")
    assert _selects(svc["spec"]["selector"], em) and not _selects(svc["spec"]["selector"], d)
    metrics = one(emulator, "Service", "ssc-operator-metrics")
    assert not _selects(metrics["spec"]["selector"], em)


def test_emulator_deployment(emulator):
    em = one(emulator, "Deployment", "ssc-iam-emulator")
    assert_hardened(em, "emulator")
    assert em["spec"]["replicas"] == 1 and em["spec"]["strategy"]["type"] == "Recreate"
    spec = em["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    c = container(spec, "emulator")
    assert c["image"] == IMAGE
    assert c["args"][0] == "emulator"
    assert "--listen=0.0.0.0:9600" in c["args"]
    assert c["ports"] == [{"name": "http", "containerPort": 9600, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    state = [a.split("=", 1)[1] for a in c["args"] if a.startswith("--state-file=")]
    mount = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}["state"]
    # The SQLite state file; a state.json left on the volume by an older release is migrated into it at start.
    assert state == [mount + "/state.db"]
    vol = {v["name"]: v for v in spec["volumes"]}["state"]
    assert "emptyDir" in vol


def test_emulator_persistent_overlay(persistent):
    pvc = one(persistent, "PersistentVolumeClaim", "ssc-iam-emulator-state")
    vol = {v["name"]: v for v in one(persistent, "Deployment", "ssc-iam-emulator")["spec"]["template"]["spec"]["volumes"]}
    assert vol["state"] == {"name": "state", "persistentVolumeClaim": {"claimName": pvc["metadata"]["name"]}}
    assert one(persistent, "Deployment", "ssc-operator")


def test_rollout_restart_overlay(base):
    objects = kustomize(DEPLOY / "rollout-restart")
    added = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert sorted(set(added) - {(o["kind"], o["metadata"]["name"]) for o in base}) == [
        ("ClusterRole", "ssc-operator-rollout-restart"), ("ClusterRoleBinding", "ssc-operator-rollout-restart")]
    d = one(objects, "Deployment", "ssc-operator")
    c = assert_operator_pod(d)
    env = env_map(c)
    assert env["SSC_ROLLOUT_RESTART"] == "true"
    assert [e["name"] for e in c["env"]].count("SSC_ROLLOUT_RESTART") == 1
    assert "SSC_ROLLOUT_RESTART" not in env_map(container(one(base, "Deployment", "ssc-operator")
                                                           ["spec"]["template"]["spec"], "manager"))
    # Otherwise the same Deployment as deploy/.
    base_env = env_map(container(one(base, "Deployment", "ssc-operator")["spec"]["template"]["spec"], "manager"))
    assert {k: v for k, v in env.items() if k != "SSC_ROLLOUT_RESTART"} == base_env


def test_multi_account_overlay(base):
    """deploy/multi-account: deploy/ with --ambient-identity=none (a flag: a misspelling fails the
    start) and the ServiceAccount annotated with an IRSA role to edit; nothing else changes."""
    objects = kustomize(DEPLOY / "multi-account")
    strip = lambda o: (o["kind"], o["metadata"]["name"])
    assert sorted(map(strip, objects)) == sorted(map(strip, base))
    d = one(objects, "Deployment", "ssc-operator")
    c = assert_operator_pod(d)
    assert c["args"] == ["run", "--ambient-identity=none"]
    base_d = one(base, "Deployment", "ssc-operator")
    base_c = container(base_d["spec"]["template"]["spec"], "manager")
    assert c["env"] == base_c["env"], "settings stay environment variables as in deploy/"
    # Otherwise the same Deployment as deploy/.
    patched = {**c, "args": base_c["args"]}
    assert patched == base_c
    sa = one(objects, "ServiceAccount", "ssc-operator")
    base_sa = one(base, "ServiceAccount", "ssc-operator")
    assert "annotations" not in base_sa["metadata"]
    arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+", arn), arn
    assert {k: v for k, v in sa["metadata"].items() if k != "annotations"} == base_sa["metadata"]
    for o in objects:
        if o["kind"] not in ("Deployment", "ServiceAccount"):
            assert o == one(base, o["kind"], o["metadata"]["name"]), o["metadata"]["name"]
    # The patches say what to edit, and the overlay says where the IAMIdentities come from.
    for name in ("operator-patch.yaml", "serviceaccount-patch.yaml"):
        assert "# EDIT" in (DEPLOY / "multi-account" / name).read_text(), name
    assert "examples/multi-account" in (DEPLOY / "multi-account" / "kustomization.yaml").read_text()
    assert "deploy/multi-account" in (DEPLOY / "Kustomization").read_text()


def _apply(kube: FakeKube, *args: str) -> subprocess.CompletedProcess:
    # Schemas are checked by validate_schemas; the stand-in serves no OpenAPI.
    return subprocess.run([kubectl(), "--kubeconfig", kube.kubeconfig, "apply", "--validate=false", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def _created(kube: FakeKube) -> list[tuple[str, str]]:
    return sorted((o["kind"], o["metadata"]["name"]) for o in kube.created_objects())


def test_kubectl_apply_f_crds_and_deploy(base):
    """The documented `kubectl apply -f crds/ -f deploy/` creates exactly the kustomize build."""
    with FakeKube() as kube:
        out = _apply(kube, "-f", "crds/", "-f", "deploy/")
        assert out.returncode == 0, out.stderr
        created = _created(kube)
        objs = kube.created_objects()
    assert created == sorted((o["kind"], o["metadata"]["name"]) for o in base)
    # The CRDs and the Namespace first, so the namespaced objects and later CRs have somewhere to go.
    crds = len(by_kind(base, "CustomResourceDefinition"))
    assert crds == len(CRD_NAMES) >= 2
    assert [o["kind"] for o in objs[:crds + 1]] == ["CustomResourceDefinition"] * crds + ["Namespace"]


@pytest.mark.parametrize("overlay", ["deploy/", *(f"deploy/{o}" for o in OVERLAYS)])
def test_kubectl_apply_k(overlay):
    expected = sorted((o["kind"], o["metadata"]["name"]) for o in kustomize(ROOT / overlay))
    with FakeKube() as kube:
        out = _apply(kube, "-k", overlay)
        assert out.returncode == 0, out.stderr
        assert _created(kube) == expected


def test_sync_and_render_scripts_are_executable_bash():
    for script in ("sync-crds.sh", "render.sh"):
        path = DEPLOY / script
        text = path.read_text()
        assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
        assert path.stat().st_mode & 0o111, f"{script} is not executable"
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0


def test_yaml_files_parse():
    for path in sorted(DEPLOY.rglob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert docs, path
