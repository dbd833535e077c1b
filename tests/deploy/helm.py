"""Helm (v4, the Go library) through helm-sdkpy: lint and render the chart offline.

helm-sdkpy exposes install but no `template`/dry-run, so `render` installs the
chart against FakeKube (tests/deploy/fakekube.py), which renders it exactly as
`helm install` does: values.schema.json validation, `fail`, kubeVersion, CRDs
(templates/crds.yaml), templates, NOTES.txt. The result's manifest is what `helm template`
prints.

helm-sdkpy's metadata asks for Python 3.12 but it loads under 3.11; run.sh
installs it with --target into .venv/helm-sdkpy (HELM_SDKPY_DIR overrides).
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from fakekube import FakeKube

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "ssc-operator"
SDK_DIR = Path(os.environ.get("HELM_SDKPY_DIR", ROOT / ".venv" / "helm-sdkpy"))


def sdk():
    """Import helm_sdkpy from SDK_DIR (appended, so the venv's own cffi wins)."""
    if str(SDK_DIR) not in sys.path:
        sys.path.append(str(SDK_DIR))
    import helm_sdkpy  # noqa: PLC0415

    return helm_sdkpy


@dataclass
class Render:
    manifest: str
    objects: list[dict]
    notes: str
    crds_applied: list[dict]
    created: list[dict]

    def kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name_suffix: str = "") -> dict:
        found = [o for o in self.kind(kind) if o["metadata"]["name"].endswith(name_suffix)]
        assert len(found) == 1, f"expected one {kind} *{name_suffix}, got {[o['metadata']['name'] for o in found]}"
        return found[0]


# The API group whose presence tells Helm's .Capabilities that the cluster is OpenShift.
OPENSHIFT = {"security.openshift.io": ("v1", [("securitycontextconstraints", "SecurityContextConstraints", False)])}


def render(values: dict | None = None, *, release: str = "ssc-operator", namespace: str = "ssc-system",
           chart: Path = CHART, extra_groups: dict | None = None) -> Render:
    """`helm install` into FakeKube; raises helm_sdkpy.InstallError on schema/template failures.
    extra_groups: more API groups the stand-in serves (e.g. OPENSHIFT)."""
    h = sdk()
    with FakeKube(extra_groups=extra_groups or {}) as kube:
        cfg = h.Configuration(namespace=namespace, kubeconfig=kube.kubeconfig)
        # Each call has its own FakeKube, so nothing of an earlier release is seen.
        result = asyncio.run(h.Install(cfg).run(release, str(chart), values=values or {}, wait=False, timeout=60))
        manifest = result.get("manifest", "")
        objects = [d for d in yaml.safe_load_all(manifest) if d]
        created = kube.created_objects()
    crds = [o for o in created if o.get("kind") == "CustomResourceDefinition"]
    return Render(manifest, objects, result.get("info", {}).get("notes", ""), crds, created)


def lint(chart: Path = CHART) -> dict:
    h = sdk()
    cfg = h.Configuration(namespace="ssc-system")
    return asyncio.run(h.Lint(cfg).run(str(chart)))
