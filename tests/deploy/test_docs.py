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
                    "kubectl apply -k deploy/emulator", "deploy/sync-crds.sh", "kubectl delete -f crds/"):
        assert command in text, command


def test_every_top_level_chart_value_is_documented():
    text = (DOCS / "install.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = [k for k in values if f"`{k}" not in text and k not in ("nameOverride", "fullnameOverride")]
    assert not missing, missing


@pytest.mark.parametrize("name", ["install.md", "argocd.md"])
def test_relative_links_resolve(name):
    text = (DOCS / name).read_text()
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (DOCS / target).exists(), target
