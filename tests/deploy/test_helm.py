"""charts/ssc-operator through Helm's own Go library (helm-sdkpy): lint, and
render with every documented values combination; each render is schema-valid,
hardened, and passes the container exactly the flags the values ask for."""

from __future__ import annotations

import copy
import json
import shutil

import jsonschema
import pytest
import yaml

import helm
from manifests import (
    CHART, DEPLOY, IMAGE, assert_hardened, assert_operator_pod, container, env_map, validate_against_crd,
    validate_schemas,
)

DEFAULTS = yaml.safe_load((CHART / "values.yaml").read_text())
# The CRDs the chart renders: one per file of files/crds/ (copies of crds/, see test_crds.py).
CHART_CRD_NAMES = sorted(yaml.safe_load(p.read_text())["metadata"]["name"]
                         for p in (CHART / "files" / "crds").glob("*.yaml"))
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
NS = "ssc-system"
ARN = "arn:aws:iam::123456789012:role/ssc-operator"
DIGEST = "sha256:" + "a" * 64
# `identities`: every field of an IAMIdentity spec, and the least an item needs.
IDENTITIES = [
    {"name": "payments", "roleArn": "arn:aws:iam::123456789012:role/ssc-tenant-payments",
     "allowedNamespaces": {"names": ["payments"]}, "allowedUsers": ["payments-*"]},
    {"name": "analytics", "roleArn": "arn:aws:iam::210987654321:role/tenants/ssc-tenant-analytics",
     "externalId": "ssc-analytics-7f3a", "sourceIdentityRef": {"name": "hub"}, "sessionDuration": "45m",
     "allowedNamespaces": {"names": ["analytics", "analytics-dev"], "selector": {
         "matchLabels": {"team": "analytics"},
         "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                              {"key": "legacy", "operator": "DoesNotExist"}]}},
     "allowedUsers": ["analytics-*", "bi-[0-9]?"]},
    {"name": "hub", "roleArn": "arn:aws-us-gov:iam::111122223333:role/ssc-hub"},
]


def merged(values: dict) -> dict:
    def merge(a, b):
        out = copy.deepcopy(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out
    return merge(DEFAULTS, values)


def fullname(release: str) -> str:
    return release if "ssc-operator" in release else f"{release}-ssc-operator"


def expected_args(v: dict, release: str, namespace: str) -> list[str]:
    """The chart's contract with `ssc-operator run` (the agreed flags)."""
    name = fullname(release)
    args = ["run", f"--policy={v['policy']}", f"--revocation={v['revocation']}",
            f"--ambient-identity={v['ambientIdentity']}"]
    if v["watchNamespaces"]:
        args.append(f"--watch-namespace={','.join(v['watchNamespaces'])}")
    if v["emulator"]["enabled"]:
        # The emulator serves IAM and STS on one listener.
        url = f"http://{name}-iam-emulator.{namespace}.svc:{v['emulator']['port']}"
        args += [f"--iam-endpoint-url={url}", f"--sts-endpoint-url={url}"]
    else:
        if v["iam"]["endpointUrl"]:
            args.append(f"--iam-endpoint-url={v['iam']['endpointUrl']}")
        # Without stsEndpointUrl the operator uses --iam-endpoint-url for STS too (or the SDK's).
        if v["stsEndpointUrl"]:
            args.append(f"--sts-endpoint-url={v['stsEndpointUrl']}")
    if v["iam"]["region"]:
        args.append(f"--region={v['iam']['region']}")
    elif v["emulator"]["enabled"]:
        args.append("--region=us-east-1")
    args += [
        f"--iam-rate-limit={v['iam']['rateLimit']}",
        f"--iam-burst={v['iam']['burst']}",
    ]
    if v["shardSelector"]:
        args.append(f"--shard-selector={v['shardSelector']}")
    args += [
        f"--resync-interval={v['resyncInterval']}",
        f"--orphan-grace={v['orphanGrace']}",
        f"--concurrency={v['concurrency']}",
        f"--http-addr=0.0.0.0:{v['metrics']['port']}",
        f"--log-format={v['logFormat']}",
        f"--log-level={v['logLevel']}",
        f"--leader-elect={'true' if v['leaderElection']['enabled'] else 'false'}",
    ]
    if v["leaderElection"]["enabled"]:
        args += [f"--lease-name={v['leaderElection']['leaseName'] or name}",
                 f"--lease-namespace={namespace}",
                 f"--lease-duration={v['leaderElection']['leaseDuration']}"]
    if v["rolloutRestart"]["enabled"]:
        args.append("--rollout-restart")
    return args + list(v["extraArgs"])


def pull_secrets(v: dict) -> list[dict]:
    """imagePullSecrets as the pod spec carries them (names or {name} objects in values)."""
    return [{"name": s} if isinstance(s, str) else {"name": s["name"]} for s in v["imagePullSecrets"]]


def adapts_security_context(case: str, v: dict) -> bool:
    """The chart leaves UID/GID/fsGroup to OpenShift's SCC: forced, or auto on an OpenShift cluster."""
    mode = v["openshift"]["adaptSecurityContext"]
    return mode == "force" or (mode == "auto" and CLUSTERS.get(case) is helm.OPENSHIFT)


def expected_security_contexts(case: str, v: dict) -> tuple[dict, dict]:
    pod, container_ = dict(v["podSecurityContext"]), dict(v["securityContext"])
    if adapts_security_context(case, v):
        for key in ("runAsUser", "runAsGroup", "fsGroup"):
            pod.pop(key, None)
        for key in ("runAsUser", "runAsGroup"):
            container_.pop(key, None)
    return pod, container_


CASES = {
    "defaults": {},
    "emulator": {"emulator": {"enabled": True}},
    "emulator-persistent": {"emulator": {"enabled": True, "users": ["alice", "bob"], "throttleRate": 0.1,
                                         "serverErrorRate": 0.05, "latencyMs": 20,
                                         "persistence": {"enabled": True, "storageClassName": "standard"}}},
    "emulator-existing-claim": {"emulator": {"enabled": True, "persistence": {"enabled": True,
                                                                              "existingClaim": "my-claim"}}},
    "watch-namespace": {"watchNamespaces": ["team-a"]},
    "watch-namespaces": {"watchNamespaces": ["team-a", "team-b"]},
    "irsa": {"aws": {"irsaRoleArn": ARN}, "iam": {"region": "eu-west-1"}},
    "credentials-secret": {"aws": {"credentialsSecret": {"name": "aws-creds", "sessionTokenKey": "token"}}},
    "service-monitor": {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}},
    "network-policy": {"networkPolicy": {"enabled": True, "apiServer": {"cidrs": ["10.0.0.1/32"]},
                                         "metrics": {"from": [{"namespaceSelector": {"matchLabels": {
                                             "kubernetes.io/metadata.name": "monitoring"}}}]}}},
    "network-policy-emulator": {"networkPolicy": {"enabled": True}, "emulator": {"enabled": True}},
    "single-replica": {"leaderElection": {"enabled": False}, "replicaCount": 1},
    "permissive": {"policy": "permissive"},
    "revocation-delete": {"revocation": "delete", "orphanGrace": "1h30m"},
    "revocation-keep": {"revocation": "keep", "orphanGrace": "30s", "watchNamespaces": ["team-a"]},
    "shard": {"shardSelector": "ssc-operator.dev/shard in (a, b)"},
    "shard-a": {"shardSelector": "ssc-operator.dev/shard=a"},
    "shard-b": {"shardSelector": "ssc-operator.dev/shard=b"},
    "text-logs": {"logFormat": "text", "logLevel": "debug"},
    "json-logs": {"logFormat": "json", "logLevel": "warn"},
    "iam-endpoint": {"iam": {"endpointUrl": "https://iam.example.internal", "region": "us-gov-west-1",
                             "rateLimit": 2, "burst": 4}, "resyncInterval": "1h",
                     "concurrency": 8},
    "image-digest": {"image": {"digest": DIGEST, "pullPolicy": "Always"}, "imagePullSecrets": ["regcred"]},
    "pull-secrets": {"imagePullSecrets": [{"name": "regcred"}, "mirror"], "emulator": {"enabled": True}},
    "image-tag": {"image": {"repository": "registry.example/ssc", "tag": "dev"}},
    "metrics-port": {"metrics": {"port": 9090, "service": {"port": 9090}}},
    "scheduling": {"nodeSelector": {"kubernetes.io/os": "linux"},
                   "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
                   "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                       "nodeSelectorTerms": [{"matchExpressions": [
                           {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}}},
                   "podAnnotations": {"a": "b"}, "podLabels": {"team": "platform"},
                   "priorityClassName": "system-cluster-critical"},
    "lease": {"leaderElection": {"leaseName": "ssc-lock", "leaseDuration": "30s"}, "replicaCount": 3},
    "external-sa": {"serviceAccount": {"create": False, "name": "existing"}, "rbac": {"create": False}},
    "extras": {"extraArgs": ["--some-flag=1"], "extraEnv": [{"name": "RUST_LOG", "value": "debug"}],
               "serviceAccount": {"annotations": {"x": "y"}}},
    "no-pdb-no-service": {"podDisruptionBudget": {"enabled": False}, "metrics": {"service": {"enabled": False}}},
    "no-crds": {"crds": {"enabled": False}},
    "crds-not-kept": {"crds": {"keep": False}},
    "no-aggregated-roles": {"rbac": {"aggregateClusterRoles": False}},
    "rollout-restart": {"rolloutRestart": {"enabled": True}},
    "rollout-restart-watch-namespaces": {"rolloutRestart": {"enabled": True}, "watchNamespaces": ["team-a", "team-b"]},
    # OpenShift: rendered against a cluster serving security.openshift.io/v1 (CLUSTERS) or forced.
    "openshift-auto": {},
    "openshift-disabled": {"openshift": {"adaptSecurityContext": "disabled"}},
    "openshift-force": {"openshift": {"adaptSecurityContext": "force"}},
    "emulator-openshift": {"emulator": {"enabled": True, "persistence": {"enabled": True}}},
    "monitoring": {"metrics": {
        "serviceMonitor": {"enabled": True, "namespace": "monitoring", "interval": "15s", "scrapeTimeout": "5s",
                           "labels": {"release": "prom"}, "honorLabels": False,
                           "relabelings": [{"action": "replace", "targetLabel": "cluster", "replacement": "prod"}],
                           "metricRelabelings": [{"action": "drop", "sourceLabels": ["__name__"],
                                                  "regex": "process_virtual_memory_bytes"}]},
        "prometheusRule": {"enabled": True, "namespace": "monitoring", "labels": {"release": "prom"},
                           "alertLabels": {"team": "platform"}},
        "grafanaDashboard": {"enabled": True, "namespace": "grafana", "labels": {"team": "platform"},
                             "annotations": {"grafana_folder": "Operators"}}}},
    "monitoring-defaults": {"metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True},
                                        "grafanaDashboard": {"enabled": True}}},
    # An AWS identity per tenant (IAMIdentity): --ambient-identity, --sts-endpoint-url, `identities`.
    "ambient-none": {"ambientIdentity": "none"},
    "ambient-selector": {"ambientIdentity": "ssc-operator.dev/ambient=true"},
    "ambient-selector-set": {"ambientIdentity": "ssc-operator.dev/ambient in (platform, ops),!legacy",
                             "watchNamespaces": ["platform", "ops"]},
    "sts-endpoint": {"stsEndpointUrl": "https://vpce-0123456789abcdef0-abcdefgh.sts.eu-west-1.vpce.amazonaws.com",
                     "iam": {"region": "eu-west-1"}},
    "sts-from-iam-endpoint": {"iam": {"endpointUrl": "http://iam-emulator.test.svc:9600"}},
    "identities": {"ambientIdentity": "none", "aws": {"irsaRoleArn": ARN}, "identities": IDENTITIES},
    "identities-watch-namespaces": {"identities": IDENTITIES[:1], "watchNamespaces": ["payments"]},
    "identities-emulator": {"emulator": {"enabled": True}, "identities": IDENTITIES[:1]},
}
# Cases rendered against a cluster with more API groups than plain Kubernetes.
CLUSTERS = {"openshift-auto": helm.OPENSHIFT, "openshift-disabled": helm.OPENSHIFT,
            "emulator-openshift": helm.OPENSHIFT}


@pytest.fixture(scope="module")
def renders():
    cache: dict = {}

    def get(case: str, release: str = "ssc-operator", namespace: str = NS):
        key = (case, release, namespace)
        if key not in cache:
            cache[key] = helm.render(CASES[case], release=release, namespace=namespace,
                                     extra_groups=CLUSTERS.get(case))
        return cache[key]
    return get


def test_lint_default_values_clean():
    result = helm.lint()
    assert result["TotalChartsLinted"] == 1
    problems = [m for m in result["Messages"] if m["Severity"] >= 2]  # 2 warning, 3 error
    assert not problems, problems


def test_lint_catches_a_broken_template(tmp_path):
    broken = tmp_path / "ssc-operator"
    shutil.copytree(CHART, broken)
    (broken / "templates" / "broken.yaml").write_text("kind: {{ .Values.nope.deeper }\n")
    result = helm.lint(broken)
    assert any(m["Severity"] == 3 for m in result["Messages"]), result


def chart_with_values(tmp_path, values: dict):
    """A copy of the chart whose values.yaml is `values` merged over the defaults:
    helm-sdkpy's lint takes no values, so lint sees them as the chart's own."""
    chart = tmp_path / "ssc-operator"
    shutil.copytree(CHART, chart)
    # JSON is YAML, and is read back exactly (PyYAML would write `y` unquoted, a bool to Go's YAML 1.1).
    (chart / "values.yaml").write_text(json.dumps(merged(values), indent=2))
    return chart


@pytest.mark.parametrize("case", sorted(CASES))
def test_lint_each_values_combination(case, tmp_path):
    result = helm.lint(chart_with_values(tmp_path, CASES[case]))
    problems = [m for m in result["Messages"] if m["Severity"] >= 2]
    assert not problems, problems


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_are_schema_valid(case):
    jsonschema.validate(merged(CASES[case]), SCHEMA)


@pytest.mark.parametrize("case", sorted(CASES))
def test_render(case, renders):
    r = renders(case)
    v = merged(CASES[case])
    name = "ssc-operator"
    validate_schemas(r.objects)
    keys = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in r.objects]
    assert len(keys) == len(set(keys))
    m = v["metrics"]
    elsewhere = {("ServiceMonitor", name): m["serviceMonitor"]["namespace"] or NS,
                 ("PrometheusRule", name): m["prometheusRule"]["namespace"] or NS,
                 ("ConfigMap", f"{name}-dashboard"): m["grafanaDashboard"]["namespace"] or NS}
    for o in r.objects:
        labels = o["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == name and labels["app.kubernetes.io/managed-by"] == "Helm"
        if o["kind"] in ("ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "IAMIdentity"):
            assert "namespace" not in o["metadata"], o["metadata"]["name"]
        elif o["kind"] not in ("Role", "RoleBinding"):
            expected_ns = elsewhere.get((o["kind"], o["metadata"]["name"]), NS)
            assert o["metadata"]["namespace"] == expected_ns, o["metadata"]["name"]

    d = r.one("Deployment", name) if not v["emulator"]["enabled"] else \
        [o for o in r.kind("Deployment") if o["metadata"]["name"] == name][0]
    assert d["spec"]["replicas"] == v["replicaCount"]
    c = assert_operator_pod(d, port=v["metrics"]["port"], fixed_uid=not adapts_security_context(case, v))
    spec = d["spec"]["template"]["spec"]
    assert c["args"] == expected_args(v, name, NS)
    assert c["resources"] == v["resources"]
    pod_sc, container_sc = expected_security_contexts(case, v)
    assert spec["securityContext"] == pod_sc
    assert c["securityContext"] == container_sc
    assert c["imagePullPolicy"] == v["image"]["pullPolicy"]
    if v["image"]["digest"]:
        assert c["image"] == f"{v['image']['repository']}@{v['image']['digest']}"
    else:
        assert c["image"] == f"{v['image']['repository']}:{v['image']['tag'] or '0.1.0'}"
    assert spec.get("imagePullSecrets", []) == pull_secrets(v)
    assert spec["serviceAccountName"] == (v["serviceAccount"]["name"] or name)
    for key in ("nodeSelector", "tolerations", "priorityClassName"):
        assert spec.get(key, DEFAULTS[key]) == v[key]
    if v["affinity"]:
        assert spec["affinity"] == v["affinity"]
    else:
        assert "podAntiAffinity" in spec["affinity"]
    pod_meta = d["spec"]["template"]["metadata"]
    assert pod_meta.get("annotations", {}) == v["podAnnotations"]
    assert v["podLabels"].items() <= pod_meta["labels"].items()
    strategy = d["spec"]["strategy"]["type"]
    assert strategy == ("RollingUpdate" if v["leaderElection"]["enabled"] else "Recreate")

    env = env_map(c)
    for extra in v["extraEnv"]:
        assert env[extra["name"]] == extra["value"]
    secret = v["aws"]["credentialsSecret"]
    if secret["name"]:
        assert env["AWS_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": secret["name"], "key": secret["accessKeyIdKey"]}}
        assert env["AWS_SECRET_ACCESS_KEY"] == {"secretKeyRef": {"name": secret["name"],
                                                                 "key": secret["secretAccessKeyKey"]}}
        if secret["sessionTokenKey"]:
            assert env["AWS_SESSION_TOKEN"] == {"secretKeyRef": {"name": secret["name"],
                                                                 "key": secret["sessionTokenKey"]}}
    elif v["emulator"]["enabled"]:
        assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    else:
        assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env

    # ServiceAccount and IRSA.
    sas = r.kind("ServiceAccount")
    if v["serviceAccount"]["create"]:
        [sa] = sas
        assert sa["automountServiceAccountToken"] is True
        annotations = sa["metadata"].get("annotations", {})
        expected = dict(v["serviceAccount"]["annotations"])
        if v["aws"]["irsaRoleArn"]:
            expected["eks.amazonaws.com/role-arn"] = v["aws"]["irsaRoleArn"]
        assert annotations == expected
    else:
        assert not sas
    if not v["rbac"]["create"]:
        assert not [o for o in r.objects if o["apiVersion"].startswith("rbac.")]
    aggregated = sorted(o["metadata"]["name"] for o in r.kind("ClusterRole")
                        if any(k.startswith("rbac.authorization.k8s.io/aggregate-to-")
                               for k in o["metadata"]["labels"]))
    aggregate = v["rbac"]["create"] and v["rbac"]["aggregateClusterRoles"]
    assert aggregated == ([f"{name}-edit", f"{name}-view"] if aggregate else [])
    restart = [(o["kind"], o["metadata"].get("namespace")) for o in r.objects
               if o["metadata"]["name"] == f"{name}-rollout-restart"]
    if v["rbac"]["create"] and v["rolloutRestart"]["enabled"]:
        scopes = v["watchNamespaces"] or [None]
        assert sorted(restart, key=str) == sorted(
            [(k, ns) for ns in scopes for k in (("Role", "RoleBinding") if ns else
                                                  ("ClusterRole", "ClusterRoleBinding"))], key=str)
    else:
        assert not restart
    assert not [rule for o in r.objects for rule in o.get("rules", [])
                if "apps" in rule["apiGroups"] and not o["metadata"]["name"].endswith("-rollout-restart")]
    # The operator's records (cluster-scoped): in its ClusterRole, or with watchNamespaces (Roles
    # cannot grant them) in a ClusterRole of their own; never in a Role or an aggregated role.
    granting = sorted((o["kind"], o["metadata"]["name"]) for o in r.objects if o["kind"] in ("Role", "ClusterRole")
                      and any("credentialrecords" in rule.get("resources", []) for rule in o.get("rules", [])))
    records = sorted((o["kind"], o["metadata"]["name"]) for o in r.objects if o["metadata"]["name"] == f"{name}-records")
    if not v["rbac"]["create"]:
        assert not granting and not records
    elif v["watchNamespaces"]:
        assert granting == [("ClusterRole", f"{name}-records")]
        assert records == [("ClusterRole", f"{name}-records"), ("ClusterRoleBinding", f"{name}-records")]
    else:
        assert granting == [("ClusterRole", name)] and not records

    # Metrics Service, ServiceMonitor, PDB.
    svcs = [s for s in r.kind("Service") if s["metadata"]["name"] == f"{name}-metrics"]
    if v["metrics"]["service"]["enabled"]:
        [svc] = svcs
        assert svc["spec"]["selector"].items() <= pod_meta["labels"].items()
        assert svc["spec"]["ports"] == [{"name": "metrics", "port": v["metrics"]["service"]["port"],
                                         "targetPort": "http", "protocol": "TCP"}]
    else:
        assert not svcs
    monitors = r.kind("ServiceMonitor")
    smv = v["metrics"]["serviceMonitor"]
    if smv["enabled"]:
        [sm] = monitors
        assert sm["metadata"]["namespace"] == (smv["namespace"] or NS)
        # Wherever the ServiceMonitor is, it selects the metrics Service in the release namespace.
        assert sm["spec"]["namespaceSelector"] == {"matchNames": [NS]}
        assert sm["spec"]["selector"]["matchLabels"].items() <= svcs[0]["metadata"]["labels"].items()
        [endpoint] = sm["spec"]["endpoints"]
        expected = {"port": "metrics", "path": "/metrics", "interval": smv["interval"],
                    "scrapeTimeout": smv["scrapeTimeout"], "honorLabels": smv["honorLabels"]}
        for key in ("relabelings", "metricRelabelings"):
            if smv[key]:
                expected[key] = smv[key]
        assert endpoint == expected
        assert smv["labels"].items() <= sm["metadata"]["labels"].items()
    else:
        assert not monitors
    assert len(r.kind("PrometheusRule")) == int(v["metrics"]["prometheusRule"]["enabled"])
    assert len([c for c in r.kind("ConfigMap") if c["metadata"]["name"] == f"{name}-dashboard"]) == \
        int(v["metrics"]["grafanaDashboard"]["enabled"])
    pdbs = r.kind("PodDisruptionBudget")
    if v["podDisruptionBudget"]["enabled"]:
        [pdb] = pdbs
        assert pdb["spec"]["maxUnavailable"] == v["podDisruptionBudget"]["maxUnavailable"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_meta["labels"].items()
    else:
        assert not pdbs

    # The chart installs its CRDs from templates/crds.yaml (each of files/crds/: test_crds.py checks that
    # those are the generated ones), unless crds.enabled is false.
    crds = sorted(c["metadata"]["name"] for c in r.crds_applied)
    assert crds == (CHART_CRD_NAMES if v["crds"]["enabled"] else [])
    for crd in r.kind("CustomResourceDefinition"):
        keep = crd["metadata"].get("annotations", {}).get("helm.sh/resource-policy")
        assert keep == ("keep" if v["crds"]["keep"] else None)
    assert "ssc-operator" in r.notes

    # `identities`: one cluster-scoped IAMIdentity each, the item but its name as the spec.
    identities = r.kind("IAMIdentity")
    assert [(o["apiVersion"], o["metadata"]["name"]) for o in identities] == \
        [("iam.ssc-operator.dev/v1alpha1", i["name"]) for i in v["identities"]]
    for o, item in zip(identities, v["identities"]):
        assert o["spec"] == {k: val for k, val in item.items() if k != "name"}
        assert set(o["metadata"]) == {"name", "labels", "annotations"}
        assert o["metadata"]["annotations"] == {"argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true"}
    # Helm creates them (after the CRDs: it orders kinds it does not know last).
    created = [o for o in r.created if o.get("kind") == "IAMIdentity"]
    assert sorted(o["metadata"]["name"] for o in created) == sorted(i["name"] for i in v["identities"])
    ambient = v["ambientIdentity"]
    assert {"all": "ambientIdentity=all", "none": "ambientIdentity=none"}.get(ambient, ambient) in r.notes
    if v["identities"]:
        assert "kubectl get iamidentities" in r.notes
    assert "iamidentities.iam.ssc-operator.dev" in r.notes or not (v["crds"]["enabled"] and v["crds"]["keep"])


@pytest.mark.parametrize("case", ["emulator", "emulator-persistent", "emulator-existing-claim",
                                  "network-policy-emulator", "pull-secrets", "emulator-openshift"])
def test_emulator(case, renders):
    r = renders(case)
    v = merged(CASES[case])
    em = r.one("Deployment", "-iam-emulator")
    assert em["metadata"]["name"] == "ssc-operator-iam-emulator"
    assert_hardened(em, "emulator", fixed_uid=not adapts_security_context(case, v))
    assert em["spec"]["replicas"] == 1 and em["spec"]["strategy"]["type"] == "Recreate"
    spec = em["spec"]["template"]["spec"]
    pod_sc, container_sc = expected_security_contexts(case, v)
    assert spec["securityContext"] == pod_sc and container(spec, "emulator")["securityContext"] == container_sc
    assert spec.get("imagePullSecrets", []) == pull_secrets(v)
    assert spec["automountServiceAccountToken"] is False
    c = container(spec, "emulator")
    e = v["emulator"]
    args = ["emulator", f"--listen=0.0.0.0:{e['port']}", f"--account-id={e['accountId']}",
            "--state-file=/var/lib/ssc-iam-emulator/state.db", f"--log-format={v['logFormat']}"]
    args += [f"--user={u}" for u in e["users"]]
    if e["throttleRate"]:
        args.append(f"--throttle-rate={e['throttleRate']}")
    if e["serverErrorRate"]:
        args.append(f"--server-error-rate={e['serverErrorRate']}")
    if e["latencyMs"]:
        args.append(f"--latency-ms={e['latencyMs']}")
    assert c["args"] == args
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    svc = r.one("Service", "-iam-emulator")
    assert svc["spec"]["selector"].items() <= em["spec"]["template"]["metadata"]["labels"].items()
    op = r.one("Deployment", "ssc-operator")
    assert not svc["spec"]["selector"].items() <= op["spec"]["template"]["metadata"]["labels"].items()
    # The operator's endpoint names this Service, namespace and port.
    url = [a for a in container(op["spec"]["template"]["spec"], "manager")["args"]
           if a.startswith("--iam-endpoint-url=")]
    assert url == [f"--iam-endpoint-url=http://{svc['metadata']['name']}.{NS}.svc:{svc['spec']['ports'][0]['port']}"]
    vol = {x["name"]: x for x in spec["volumes"]}["state"]
    pvcs = r.kind("PersistentVolumeClaim")
    if not e["persistence"]["enabled"]:
        assert "emptyDir" in vol and not pvcs
    elif e["persistence"]["existingClaim"]:
        assert vol["persistentVolumeClaim"] == {"claimName": e["persistence"]["existingClaim"]} and not pvcs
    else:
        [pvc] = pvcs
        assert vol["persistentVolumeClaim"] == {"claimName": pvc["metadata"]["name"]}
        assert pvc["spec"].get("storageClassName", "") == e["persistence"]["storageClassName"]
    assert "DEV/TEST ONLY" in r.notes


def test_emulator_off_renders_no_emulator(renders):
    r = renders("defaults")
    assert not [o for o in r.objects if "emulator" in o["metadata"]["name"]]


def test_release_name_prefixes_every_name(renders):
    r = renders("emulator", release="dev", namespace="sandbox")
    names = {o["metadata"]["name"] for o in r.objects}
    assert "dev-ssc-operator" in names and "dev-ssc-operator-iam-emulator" in names
    op = r.one("Deployment", "dev-ssc-operator")
    args = container(op["spec"]["template"]["spec"], "manager")["args"]
    assert args == expected_args(merged(CASES["emulator"]), "dev", "sandbox")
    for o in r.objects:
        if o["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            assert o["subjects"] == [{"kind": "ServiceAccount", "name": "dev-ssc-operator", "namespace": "sandbox"}]


def test_two_shard_releases_get_their_own_lease_and_names(renders):
    """The README's sharding example: one release per shard, side by side in one namespace."""
    a, b = renders("shard-a", release="ssc-shard-a"), renders("shard-b", release="ssc-shard-b")
    for r, shard, release in [(a, "a", "ssc-shard-a"), (b, "b", "ssc-shard-b")]:
        name = fullname(release)
        args = container(r.one("Deployment", name)["spec"]["template"]["spec"], "manager")["args"]
        assert f"--shard-selector=ssc-operator.dev/shard={shard}" in args
        assert f"--lease-name={name}" in args
        lease_role = [o for o in r.objects if o["kind"] == "Role" and any(
            "leases" in rule.get("resources", []) for rule in o["rules"])]
        assert [rule.get("resourceNames") for o in lease_role for rule in o["rules"]
                if rule.get("resourceNames")] == [[name]], "the Lease role names this release's Lease"
    names = lambda r: {(o["kind"], o["metadata"]["name"]) for o in r.objects if o["kind"] != "CustomResourceDefinition"}
    assert not names(a) & names(b), names(a) & names(b)


@pytest.mark.parametrize("case", ["network-policy", "network-policy-emulator"])
def test_network_policy(case, renders):
    r = renders(case)
    v = merged(CASES[case])
    op = r.one("Deployment", "ssc-operator")
    pod_labels = op["spec"]["template"]["metadata"]["labels"]
    [np] = [n for n in r.kind("NetworkPolicy") if n["metadata"]["name"] == "ssc-operator"]
    assert np["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert sorted(np["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    [ingress] = np["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert ingress.get("from", []) == v["networkPolicy"]["metrics"]["from"]
    egress_ports = [sorted((p["port"], p["protocol"]) for p in e["ports"]) for e in np["spec"]["egress"]]
    assert [(53, "TCP"), (53, "UDP")] in egress_ports
    assert sorted((p, "TCP") for p in v["networkPolicy"]["apiServer"]["ports"]) in egress_ports
    api = np["spec"]["egress"][1]
    assert [t["ipBlock"]["cidr"] for t in api.get("to", [])] == v["networkPolicy"]["apiServer"]["cidrs"]
    if v["emulator"]["enabled"]:
        em = r.one("Deployment", "-iam-emulator")
        iam = np["spec"]["egress"][2]
        assert iam["ports"] == [{"port": v["emulator"]["port"], "protocol": "TCP"}]
        assert iam["to"][0]["podSelector"]["matchLabels"].items() <= \
            em["spec"]["template"]["metadata"]["labels"].items()
        [emnp] = [n for n in r.kind("NetworkPolicy") if n["metadata"]["name"].endswith("-iam-emulator")]
        assert emnp["spec"]["egress"] == []
        assert emnp["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    else:
        iam = np["spec"]["egress"][2]
        assert iam["ports"] == [{"port": 443, "protocol": "TCP"}]
        assert [t["ipBlock"]["cidr"] for t in iam["to"]] == ["0.0.0.0/0"]


def test_single_replica_without_leader_election_has_no_lease_role(renders):
    r = renders("single-replica")
    assert not [o for o in r.kind("Role") if "leader" in o["metadata"]["name"]]


def test_lease_role_names_the_lease(renders):
    r = renders("lease")
    role = r.one("Role", "-leader-election")
    assert [x.get("resourceNames") for x in role["rules"]] == [None, ["ssc-lock"]]


def test_defaults_match_deploy():
    """The chart and deploy/ ship the same image and operator defaults."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert f"{DEFAULTS['image']['repository']}:{chart['appVersion']}" == IMAGE
    deploy_text = (DEPLOY / "base" / "deployment.yaml").read_text()
    assert IMAGE in deploy_text


# Values that must be rejected at install time, and the message that says why.
BAD = {
    "policy-lax": ({"policy": "lax"}, "/policy"),
    "replicas-string": ({"replicaCount": "two"}, "/replicaCount"),
    "unknown-top-level": ({"replicas": 2}, "additional properties 'replicas'"),
    "unknown-nested": ({"iam": {"endpoint": "http://x"}}, "additional properties 'endpoint'"),
    "log-format": ({"logFormat": "yaml"}, "/logFormat"),
    "log-level": ({"logLevel": "verbose"}, "/logLevel"),
    "duration": ({"resyncInterval": "ten minutes"}, "/resyncInterval"),
    "revocation": ({"revocation": "revoke"}, "/revocation"),
    "revocation-bool": ({"revocation": False}, "/revocation"),
    "orphan-grace": ({"orphanGrace": "five minutes"}, "/orphanGrace"),
    "orphan-grace-number": ({"orphanGrace": 300}, "/orphanGrace"),
    "lease-duration": ({"leaderElection": {"leaseDuration": 15}}, "/leaderElection/leaseDuration"),
    "rate-limit-zero": ({"iam": {"rateLimit": 0}}, "/iam/rateLimit"),
    "rate-limit-fraction": ({"iam": {"rateLimit": 2.5}}, "/iam/rateLimit"),
    "concurrency-zero": ({"concurrency": 0}, "/concurrency"),
    "shard-selector": ({"shardSelector": "shard=a; rm -rf /"}, "/shardSelector"),
    "endpoint-scheme": ({"iam": {"endpointUrl": "iam.amazonaws.com"}}, "/iam/endpointUrl"),
    "irsa-arn": ({"aws": {"irsaRoleArn": "my-role"}}, "/aws/irsaRoleArn"),
    "digest": ({"image": {"digest": "latest"}}, "/image/digest"),
    "watch-namespace": ({"watchNamespaces": ["Team_A"]}, "/watchNamespaces/0"),
    "watch-namespace-string": ({"watchNamespaces": "team-a"}, "/watchNamespaces"),
    "watch-namespace-twice": ({"watchNamespaces": ["team-a", "team-a"]}, "/watchNamespaces"),
    "account-id": ({"emulator": {"accountId": 123}}, "/emulator/accountId"),
    "throttle-rate": ({"emulator": {"throttleRate": 2}}, "/emulator/throttleRate"),
    "no-leader-election-two-replicas": ({"leaderElection": {"enabled": False}}, "/replicaCount"),
    "emulator-and-endpoint": ({"emulator": {"enabled": True}, "iam": {"endpointUrl": "https://x"}},
                              "/iam/endpointUrl"),
}


BAD |= {
    "old-pull-secrets": ({"image": {"pullSecrets": ["regcred"]}}, "additional properties 'pullSecrets'"),
    # The per-namespace cap on IAM writes is gone (fair sharing replaced it): its values fail the schema.
    "old-namespace-writes": ({"iam": {"namespaceWritesPerMinute": 180}},
                             "additional properties 'namespaceWritesPerMinute'"),
    "old-namespace-burst": ({"iam": {"namespaceWriteBurst": 100}}, "additional properties 'namespaceWriteBurst'"),
    "pull-secret-object": ({"imagePullSecrets": [{"secret": "regcred"}]}, "/imagePullSecrets/0"),
    "pull-secret-empty": ({"imagePullSecrets": [""]}, "/imagePullSecrets/0"),
    "crds-unknown": ({"crds": {"install": True}}, "additional properties 'install'"),
    "crds-keep-string": ({"crds": {"keep": "yes"}}, "/crds/keep"),
    "openshift-mode": ({"openshift": {"adaptSecurityContext": True}}, "/openshift/adaptSecurityContext"),
    "openshift-unknown": ({"openshift": {"enabled": True}}, "additional properties 'enabled'"),
    "aggregate-string": ({"rbac": {"aggregateClusterRoles": "true"}}, "/rbac/aggregateClusterRoles"),
    "rollout-unknown": ({"rolloutRestart": {"enable": True}}, "additional properties 'enable'"),
    "sm-namespace": ({"metrics": {"serviceMonitor": {"namespace": "Monitoring"}}},
                     "/metrics/serviceMonitor/namespace"),
    "sm-unknown": ({"metrics": {"serviceMonitor": {"relabels": []}}}, "additional properties 'relabels'"),
    "sm-relabel-unknown": ({"metrics": {"serviceMonitor": {"relabelings": [{"target_label": "x"}]}}},
                           "/metrics/serviceMonitor/relabelings/0"),
    "sm-relabel-action": ({"metrics": {"serviceMonitor": {"metricRelabelings": [{"action": "delete"}]}}},
                          "/metrics/serviceMonitor/metricRelabelings/0/action"),
    "rule-unknown": ({"metrics": {"prometheusRule": {"enabled": True, "groups": []}}},
                     "additional properties 'groups'"),
    "rule-alerts-unknown": ({"metrics": {"prometheusRule": {"alerts": {"credentialExpired": {}}}}},
                            "additional properties 'credentialExpired'"),
    "rule-alert-unknown": ({"metrics": {"prometheusRule": {"alerts": {"noLeader": {"expr": "up"}}}}},
                           "additional properties 'expr'"),
    "rule-within-days": ({"metrics": {"prometheusRule": {"alerts": {"credentialExpiringSoon": {"withinDays": 0}}}}},
                         "/metrics/prometheusRule/alerts/credentialExpiringSoon/withinDays"),
    "rule-for": ({"metrics": {"prometheusRule": {"alerts": {"credentialNotReady": {"for": "15 minutes"}}}}},
                 "/metrics/prometheusRule/alerts/credentialNotReady/for"),
    "rule-alert-label": ({"metrics": {"prometheusRule": {"alertLabels": {"team-name": "x"}}}},
                         "invalid propertyName 'team-name'"),  # Helm's path for propertyNames is off
    "rule-job-quote": ({"metrics": {"prometheusRule": {"job": 'a"} or vector(1) #'}}},
                       "/metrics/prometheusRule/job"),
    "dashboard-unknown": ({"metrics": {"grafanaDashboard": {"folder": "x"}}}, "additional properties 'folder'"),
    "dashboard-label": ({"metrics": {"grafanaDashboard": {"sidecarLabel": "grafana dashboard"}}},
                        "/metrics/grafanaDashboard/sidecarLabel"),
}


def _identity(**fields) -> dict:
    """One `identities` item: payments' with `fields` changed (None deletes one)."""
    item = dict(IDENTITIES[0], **fields)
    return {k: v for k, v in item.items() if v is not None}


BAD |= {
    "ambient-empty": ({"ambientIdentity": ""}, "/ambientIdentity"),
    "ambient-bool": ({"ambientIdentity": False}, "/ambientIdentity"),
    "ambient-injection": ({"ambientIdentity": "team=a; rm -rf /"}, "/ambientIdentity"),
    "ambient-flag-injection": ({"ambientIdentity": "none\n- --policy=permissive"}, "/ambientIdentity"),
    "sts-scheme": ({"stsEndpointUrl": "sts.amazonaws.com"}, "/stsEndpointUrl"),
    "sts-space": ({"stsEndpointUrl": "https://sts.amazonaws.com --policy=permissive"}, "/stsEndpointUrl"),
    "emulator-and-sts-endpoint": ({"emulator": {"enabled": True}, "stsEndpointUrl": "https://x"}, "/stsEndpointUrl"),
    "identities-object": ({"identities": {"payments": IDENTITIES[0]}}, "/identities"),
    "identity-no-name": ({"identities": [_identity(name=None)]}, "/identities/0"),
    "identity-no-role": ({"identities": [_identity(roleArn=None)]}, "/identities/0"),
    "identity-name": ({"identities": [_identity(name="Payments_Team")]}, "/identities/0/name"),
    "identity-role-arn": ({"identities": [_identity(roleArn="arn:aws:iam::123456789012:user/payments")]},
                          "/identities/0/roleArn"),
    "identity-role-arn-account": ({"identities": [_identity(roleArn="arn:aws:iam::1234:role/x")]},
                                  "/identities/0/roleArn"),
    "identity-unknown-field": ({"identities": [_identity(namespaces=["payments"])]},
                               "additional properties 'namespaces'"),
    "identity-external-id": ({"identities": [_identity(externalId="x")]}, "/identities/0/externalId"),
    "identity-external-id-chars": ({"identities": [_identity(externalId="a b")]}, "/identities/0/externalId"),
    "identity-session-duration": ({"identities": [_identity(sessionDuration=3600)]}, "/identities/0/sessionDuration"),
    "identity-session-duration-unit": ({"identities": [_identity(sessionDuration="1 hour")]},
                                       "/identities/0/sessionDuration"),
    "identity-source-ref": ({"identities": [_identity(sourceIdentityRef="hub")]}, "/identities/0/sourceIdentityRef"),
    "identity-source-ref-empty": ({"identities": [_identity(sourceIdentityRef={})]},
                                  "/identities/0/sourceIdentityRef"),
    "identity-namespaces-list": ({"identities": [_identity(allowedNamespaces=["payments"])]},
                                 "/identities/0/allowedNamespaces"),
    "identity-namespace-name": ({"identities": [_identity(allowedNamespaces={"names": ["Payments"]})]},
                                "/identities/0/allowedNamespaces/names/0"),
    "identity-namespaces-unknown": ({"identities": [_identity(allowedNamespaces={"namespaces": ["payments"]})]},
                                    "additional properties 'namespaces'"),
    "identity-selector-operator": ({"identities": [_identity(allowedNamespaces={"selector": {"matchExpressions": [
        {"key": "team", "operator": "Equals", "values": ["a"]}]}})]},
        "/identities/0/allowedNamespaces/selector/matchExpressions/0/operator"),
    "identity-selector-string": ({"identities": [_identity(allowedNamespaces={"selector": "team=a"})]},
                                 "/identities/0/allowedNamespaces/selector"),
    "identity-users-string": ({"identities": [_identity(allowedUsers="payments-*")]}, "/identities/0/allowedUsers"),
    "identity-user-glob": ({"identities": [_identity(allowedUsers=["payments *"])]}, "/identities/0/allowedUsers/0"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_lint_rejects_bad_values(case, tmp_path):
    result = helm.lint(chart_with_values(tmp_path, BAD[case][0]))
    assert any(m["Severity"] == 3 and m["Path"] == "values.yaml" for m in result["Messages"]), result


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_values_fail_the_schema(case):
    values, where = BAD[case]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merged(values), SCHEMA)
    with pytest.raises(helm.sdk().InstallError) as err:
        helm.render(values)
    assert "values don't meet the specifications of the schema" in str(err.value)
    assert where in str(err.value), str(err.value)


@pytest.mark.parametrize("values,message", [
    ({"emulator": {"enabled": True}, "aws": {"credentialsSecret": {"name": "x"}}}, "unset aws.credentialsSecret"),
    ({"serviceAccount": {"create": False}}, "serviceAccount.name is required"),
    ({"metrics": {"serviceMonitor": {"enabled": True}, "service": {"enabled": False}}},
     "metrics.serviceMonitor.enabled needs metrics.service.enabled"),
    ({"identities": [IDENTITIES[0], _identity(roleArn="arn:aws:iam::210987654321:role/other")]},
     'identities[1]: the name "payments" is used twice'),
    ({"identities": [_identity(sourceIdentityRef={"name": "payments"})]},
     'identities[0]: "payments" names itself in sourceIdentityRef'),
])
def test_inconsistent_values_fail_with_a_message(values, message):
    with pytest.raises(helm.sdk().InstallError) as err:
        helm.render(values)
    assert message in str(err.value)


def test_kube_version_floor():
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"] == ">=1.25.0-0"


# ---------------------------------------------------------------- IAMIdentity (`identities`)

def test_rendered_identities_are_valid_for_their_crd(renders):
    """Every IAMIdentity the chart renders passes the generated CRD's schema (crds/)."""
    for case in ("identities", "identities-watch-namespaces"):
        for o in renders(case).kind("IAMIdentity"):
            validate_against_crd(o)


def test_no_identities_by_default(renders):
    r = renders("defaults")
    assert DEFAULTS["identities"] == [] and not r.kind("IAMIdentity")
    assert DEFAULTS["ambientIdentity"] == "all" and DEFAULTS["stsEndpointUrl"] == ""
    args = container(r.one("Deployment", "ssc-operator")["spec"]["template"]["spec"], "manager")["args"]
    # Upgrades change nothing: every namespace keeps the operator's own identity.
    assert "--ambient-identity=all" in args
    assert not [a for a in args if a.startswith("--sts-endpoint-url")]


@pytest.mark.parametrize("case,expected", [
    ("ambient-none", "--ambient-identity=none"),
    ("ambient-selector", "--ambient-identity=ssc-operator.dev/ambient=true"),
    ("ambient-selector-set", "--ambient-identity=ssc-operator.dev/ambient in (platform, ops),!legacy"),
])
def test_ambient_identity_is_one_argument(case, expected, renders):
    """A selector with spaces, commas and parentheses stays one argument, unchanged."""
    args = container(renders(case).one("Deployment", "ssc-operator")["spec"]["template"]["spec"], "manager")["args"]
    assert [a for a in args if a.startswith("--ambient-identity")] == [expected]


def test_identities_need_their_crd_served_first():
    """Helm maps every object's kind before it creates any: against a cluster that does not serve
    IAMIdentity yet (a first install, whose CRD is one of the release's own templates), a release
    with `identities` fails before creating anything, as the chart README says; without them it
    installs (and brings the CRD)."""
    from fakekube import RESOURCES  # noqa: PLC0415

    version, kinds = RESOURCES["iam.ssc-operator.dev"]
    without = {"iam.ssc-operator.dev": (version, [k for k in kinds if k[1] != "IAMIdentity"])}
    with pytest.raises(helm.sdk().InstallError) as err:
        helm.render({"identities": IDENTITIES[:1]}, extra_groups=without)
    assert 'no matches for kind "IAMIdentity"' in str(err.value), str(err.value)
    assert "ensure CRDs are installed first" in str(err.value)
    assert helm.render({}, extra_groups=without).crds_applied
    readme = (CHART / "README.md").read_text()
    assert "ensure CRDs are installed first" in readme and "--set-json 'identities=[]'" in readme
