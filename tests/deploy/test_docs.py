"""docs/install.md and docs/argocd.md: the snippets parse, the IAM policy is the
least-privilege one, links resolve, every chart value is documented."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from manifests import CHART, ROOT

DOCS = ROOT / "docs"
ACTIONS = {"iam:CreateServiceSpecificCredential", "iam:ListServiceSpecificCredentials",
           "iam:ResetServiceSpecificCredential", "iam:UpdateServiceSpecificCredential",
           "iam:DeleteServiceSpecificCredential"}


def blocks(name: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (DOCS / name).read_text(), re.S)


@pytest.mark.parametrize("name", ["install.md", "argocd.md"])
def test_yaml_snippets_parse(name):
    found = blocks(name, "yaml")
    assert found
    for b in found:
        for doc in yaml.safe_load_all(b):
            assert doc is None or isinstance(doc, dict)


def test_json_snippets_parse():
    for b in blocks("install.md", "json"):
        if b.lstrip().startswith("{"):  # whole documents (not the one-line Resource excerpt)
            assert isinstance(json.loads(b), dict)


def test_least_privilege_iam_policy():
    policies = [json.loads(b) for b in blocks("install.md", "json") if '"Statement"' in b]
    main = policies[0]
    [statement] = main["Statement"]
    assert statement["Effect"] == "Allow"
    assert set(statement["Action"]) == ACTIONS
    assert statement["Resource"] == "arn:aws:iam::123456789012:user/*"
    for p in policies:  # nothing broader anywhere (trust policies aside)
        for s in p["Statement"]:
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            assert all(a in ACTIONS or a.startswith("sts:") for a in actions), actions
            assert "*" not in actions


def test_install_commands_are_documented():
    text = (DOCS / "install.md").read_text()
    for command in ("kubectl apply -f crds/ -f deploy/", "kubectl apply -k deploy/",
                    "helm install ssc-operator charts/ssc-operator -n ssc-system --create-namespace",
                    "kubectl apply -k deploy/emulator", "deploy/sync-crds.sh", "kubectl delete -f crds/",
                    "kubectl apply -k deploy/rollout-restart"):
        assert command in text, command


def test_every_top_level_chart_value_is_documented():
    text = (DOCS / "install.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = [k for k in values if f"`{k}" not in text and k not in ("nameOverride", "fullnameOverride")]
    assert not missing, missing


# Values documented as one object (Kubernetes objects passed through), not key by key.
OBJECT_VALUES = {"resources", "podSecurityContext", "securityContext", "emulator.resources"}


def value_paths(values: dict, prefix: str = ""):
    """Dotted paths of every leaf value (lists and empty maps are leaves)."""
    for key, value in values.items():
        path = prefix + key
        if isinstance(value, dict) and value and path not in OBJECT_VALUES:
            yield from value_paths(value, path + ".")
        else:
            yield path


def test_every_chart_value_is_in_the_chart_readme():
    text = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    paths = list(value_paths(values))
    assert "metrics.prometheusRule.alerts.noLeader.for" in paths and "imagePullSecrets" in paths
    missing = [p for p in paths if f"| `{p}` |" not in text]
    assert not missing, f"charts/ssc-operator/README.md's Values table lacks {missing}"
    documented = re.findall(r"^\| `([A-Za-z.]+)` \|", text, re.M)
    stale = [p for p in documented if p not in paths]
    assert not stale, f"the Values table lists values that do not exist: {stale}"


def test_chart_readme_documents_the_day_two_options():
    text = (CHART / "README.md").read_text()
    for needle in ("helm.sh/resource-policy: keep", "`helm uninstall`", "`image.pullSecrets` is now `imagePullSecrets`",
                   "aggregate-to-view", "aggregate-to-edit", "aggregate-to-admin", "restricted-v2",
                   "anyone who may create a ServiceSpecificCredential in a namespace", "crds.enabled=false"):
        assert needle in text, needle


@pytest.mark.parametrize("name", ["install.md", "argocd.md"])
def test_relative_links_resolve(name):
    text = (DOCS / name).read_text()
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (DOCS / target).exists(), target
