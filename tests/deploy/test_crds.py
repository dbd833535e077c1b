"""The generated CRD (crds/, from `ssc-operator crd`) and its copies in the chart
and in deploy/ must be identical; deploy/sync-crds.sh makes them so."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from manifests import CHART, DEPLOY, ROOT, kustomize

CRDS = ROOT / "crds"
COPIES = {"charts/ssc-operator/crds": CHART / "crds", "deploy/crds": DEPLOY / "crds"}


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
    [crd] = [c for c in crds if c["metadata"]["name"] == "servicespecificcredentials.iam.ssc-operator.dev"]
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


def test_sync_script_copies_and_is_idempotent(tmp_path):
    files = generated()
    repo = tmp_path / "repo"
    for part in ("crds", "deploy", "charts"):
        shutil.copytree(ROOT / part, repo / part)
    # A changed CRD and a stale extra copy.
    changed = repo / "crds" / files[0].name
    changed.write_text(changed.read_text() + "# changed\n")
    (repo / "charts" / "ssc-operator" / "crds" / "stale.yaml").write_text("kind: Stale\n")
    script = repo / "deploy" / "sync-crds.sh"
    for _ in range(2):
        out = subprocess.run(["bash", str(script)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        for dest in ("charts/ssc-operator/crds", "deploy/crds"):
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
