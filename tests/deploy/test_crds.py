"""The generated CRDs (crds/, from `ssc-operator crd`: the ServiceSpecificCredential and the
operator's own CredentialRecord) and their copies in the chart (files/crds/, rendered by
templates/crds.yaml) and in deploy/ must be identical; deploy/sync-crds.sh makes them so. The
chart renders each copy's spec verbatim."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

import helm
from manifests import CHART, DEPLOY, ROOT, kustomize

CRDS = ROOT / "crds"
CHART_CRDS = "charts/ssc-operator/files/crds"
COPIES = {CHART_CRDS: CHART / "files" / "crds", "deploy/crds": DEPLOY / "crds"}
KEEP = "helm.sh/resource-policy"
SSC_CRD = "servicespecificcredentials.iam.ssc-operator.dev"
RECORD_CRD = "credentialrecords.iam.ssc-operator.dev"
IDENTITY_CRD = "iamidentities.iam.ssc-operator.dev"
ALL_CRDS = {SSC_CRD, RECORD_CRD, IDENTITY_CRD}


def generated() -> list:
    files = sorted(CRDS.glob("*.yaml"))
    if not files:
        pytest.skip("crds/ has no *.yaml yet: nothing to compare (generate it with `ssc-operator crd`, "
                    "then run deploy/sync-crds.sh)")
    return files


@pytest.mark.parametrize("copy", sorted(COPIES))
def test_copies_are_identical(copy):
    files = generated()
    dest = COPIES[copy]
    copied = sorted(p.name for p in dest.glob("*.yaml") if p.name != "kustomization.yaml")
    assert copied == [f.name for f in files], f"{copy} holds {copied}: run deploy/sync-crds.sh"
    for f in files:
        assert (dest / f.name).read_bytes() == f.read_bytes(), \
            f"{copy}/{f.name} differs from crds/{f.name}: run deploy/sync-crds.sh"


def test_deploy_kustomization_lists_every_crd():
    files = generated()
    k = yaml.safe_load((DEPLOY / "crds" / "kustomization.yaml").read_text())
    assert sorted(k["resources"]) == [f.name for f in files]
    built = kustomize(DEPLOY / "crds")
    assert [o["metadata"]["name"] for o in built] == \
        [yaml.safe_load(f.read_text())["metadata"]["name"] for f in files]


def test_crd_is_what_rbac_and_the_health_check_expect():
    files = generated()
    crds = [yaml.safe_load(f.read_text()) for f in files]
    [crd] = [c for c in crds if c["metadata"]["name"] == SSC_CRD]
    spec = crd["spec"]
    assert spec["group"] == "iam.ssc-operator.dev"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["plural"] == "servicespecificcredentials"
    assert spec["names"]["kind"] == "ServiceSpecificCredential"
    assert "ssc" in spec["names"]["shortNames"]
    [v1alpha1] = [v for v in spec["versions"] if v["name"] == "v1alpha1"]
    assert v1alpha1["served"] and v1alpha1["storage"]
    assert v1alpha1["subresources"]["status"] == {}
    status = v1alpha1["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert "observedGeneration" in status and "conditions" in status
    assert "observedGeneration" in status["conditions"]["items"]["properties"]


def test_record_crd_is_what_rbac_expects():
    """The operator's records: cluster-scoped (no namespaced Role can reach them, and the RBAC
    grants them through a ClusterRole only), in the operator's group, plural credentialrecords."""
    files = generated()
    crds = {c["metadata"]["name"]: c for c in (yaml.safe_load(f.read_text()) for f in files)}
    assert set(crds) == ALL_CRDS, "crds/ holds exactly the three CRDs of `ssc-operator crd`"
    spec = crds[RECORD_CRD]["spec"]
    assert spec["group"] == "iam.ssc-operator.dev"
    assert spec["scope"] == "Cluster"
    assert spec["names"]["plural"] == "credentialrecords"
    assert spec["names"]["kind"] == "CredentialRecord"
    assert spec["names"]["shortNames"] == ["sscrecord"]
    [v1alpha1] = [v for v in spec["versions"] if v["name"] == "v1alpha1"]
    assert v1alpha1["served"] and v1alpha1["storage"]
    # No subresources: the operator writes the whole object (PUT), RBAC grants no .../status.
    assert not v1alpha1.get("subresources")
    assert "spec" in v1alpha1["schema"]["openAPIV3Schema"]["properties"]


def test_identity_crd_is_what_rbac_and_the_chart_expect():
    """IAMIdentity: cluster-scoped (only a ClusterRole grants it, no tenant's Role reaches it), in the
    operator's group, plural iamidentities (the RBAC rules), a status subresource (the operator writes
    only that), short name sscid; the chart's `identities` render apiVersion iam.ssc-operator.dev/v1alpha1."""
    files = generated()
    crds = {c["metadata"]["name"]: c for c in (yaml.safe_load(f.read_text()) for f in files)}
    assert IDENTITY_CRD in crds, f"crds/ has no {IDENTITY_CRD}: generate it with `ssc-operator crd`, " \
        "then run deploy/sync-crds.sh"
    spec = crds[IDENTITY_CRD]["spec"]
    assert spec["group"] == "iam.ssc-operator.dev"
    assert spec["scope"] == "Cluster"
    assert spec["names"]["kind"] == "IAMIdentity"
    assert spec["names"]["plural"] == "iamidentities" and spec["names"]["singular"] == "iamidentity"
    assert "sscid" in spec["names"]["shortNames"]
    [v1alpha1] = [v for v in spec["versions"] if v["name"] == "v1alpha1"]
    assert v1alpha1["served"] and v1alpha1["storage"]
    assert v1alpha1["subresources"]["status"] == {}
    props = v1alpha1["schema"]["openAPIV3Schema"]["properties"]
    for field in ("roleArn", "externalId", "sourceIdentityRef", "sessionDuration", "allowedNamespaces",
                  "allowedUsers"):
        assert field in props["spec"]["properties"], field
    assert "roleArn" in props["spec"].get("required", [])
    assert "conditions" in props["status"]["properties"]
    # The chart's values schema takes exactly the spec's fields (plus the object's name).
    values = json.loads((CHART / "values.schema.json").read_text())
    item = values["properties"]["identities"]["items"]["properties"]
    assert set(item) - {"name"} == set(props["spec"]["properties"])


def test_sync_script_copies_and_is_idempotent(tmp_path):
    files = generated()
    repo = tmp_path / "repo"
    for part in ("crds", "deploy", "charts"):
        shutil.copytree(ROOT / part, repo / part)
    # A changed CRD and a stale extra copy.
    changed = repo / "crds" / files[0].name
    changed.write_text(changed.read_text() + "# changed\n")
    (repo / CHART_CRDS / "stale.yaml").write_text("kind: Stale\n")
    # A crds/ directory left in the chart by an older checkout (Helm would install it outside the release).
    (repo / "charts" / "ssc-operator" / "crds").mkdir()
    (repo / "charts" / "ssc-operator" / "crds" / files[0].name).write_text("kind: Old\n")
    script = repo / "deploy" / "sync-crds.sh"
    for _ in range(2):
        out = subprocess.run(["bash", str(script)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert not (repo / "charts" / "ssc-operator" / "crds").exists()
        for dest in (CHART_CRDS, "deploy/crds"):
            names = sorted(p.name for p in (repo / dest).glob("*.yaml") if p.name != "kustomization.yaml")
            assert names == [f.name for f in files]
            assert (repo / dest / files[0].name).read_text().endswith("# changed\n")
        assert (repo / "deploy" / "crds" / "kustomization.yaml").read_text() == \
            (DEPLOY / "crds" / "kustomization.yaml").read_text()


def test_sync_script_fails_clearly_without_crds(tmp_path):
    repo = tmp_path / "repo"
    (repo / "crds").mkdir(parents=True)
    shutil.copytree(ROOT / "deploy", repo / "deploy")
    out = subprocess.run(["bash", str(repo / "deploy" / "sync-crds.sh")], capture_output=True, text=True)
    assert out.returncode != 0 and "ssc-operator crd" in out.stderr


def test_chart_has_no_crds_directory():
    """Helm installs crds/ outside the release (never upgraded): the CRD is a template instead."""
    assert not (CHART / "crds").exists()


@pytest.fixture(scope="module")
def chart_default():
    return helm.render()


def test_chart_renders_each_crd_verbatim_with_the_keep_annotation(chart_default):
    files = generated()
    rendered = {c["metadata"]["name"]: c for c in chart_default.kind("CustomResourceDefinition")}
    assert sorted(rendered) == sorted(yaml.safe_load(f.read_text())["metadata"]["name"] for f in files)
    # Helm creates the objects of one kind concurrently: the order it applies them in varies.
    assert sorted(c["metadata"]["name"] for c in chart_default.crds_applied) == sorted(rendered)
    for f in files:
        text = f.read_text()
        canonical = yaml.safe_load(text)
        crd = rendered[canonical["metadata"]["name"]]
        meta = crd["metadata"]
        assert meta["annotations"] == {KEEP: "keep"}
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert set(meta) == {"name", "labels", "annotations"}
        assert {k: v for k, v in crd.items() if k != "metadata"} == \
            {k: v for k, v in canonical.items() if k != "metadata"}
        # Byte for byte: everything from `spec:` on is the generated file's text.
        spec_text = text[text.index("\nspec:\n") + 1:]
        assert spec_text in chart_default.manifest


def test_crds_keep_false_drops_the_annotation():
    crds = helm.render({"crds": {"keep": False}}).kind("CustomResourceDefinition")
    assert sorted(c["metadata"]["name"] for c in crds) == sorted(ALL_CRDS)
    for crd in crds:
        assert KEEP not in crd["metadata"].get("annotations", {})


def test_crds_disabled_renders_no_crd():
    r = helm.render({"crds": {"enabled": False}})
    assert not r.kind("CustomResourceDefinition") and not r.crds_applied
    assert "crds.enabled=false" in r.notes


def test_chart_refuses_a_crd_file_it_cannot_render_verbatim(tmp_path):
    """A copy whose metadata has more than the name (the template would drop it) fails the install."""
    chart = tmp_path / "ssc-operator"
    shutil.copytree(CHART, chart)
    f = sorted((chart / "files" / "crds").glob("*.yaml"))[0]
    text = f.read_text()
    f.write_text(text.replace("\nspec:\n", "\n  labels: {a: b}\nspec:\n", 1))
    with pytest.raises(helm.sdk().InstallError) as err:
        helm.render(chart=chart)
    assert "must start with apiVersion, kind, metadata.name and spec" in str(err.value)
