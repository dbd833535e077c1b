"""examples/: every manifest parses and is valid (built-in kinds against Kubernetes' schemas, the
project's kinds against their generated CRDs), and examples/multi-account is what its README, the
chart README and `ssc-operator demo` (which seeds its emulator with exactly these accounts, roles
and users) expect. The end-to-end tests (tests/e2e/examples.rs) apply them and check they work."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest
import yaml

import helm
from manifests import CHART, ROOT, parse_all, validate_against_crd, validate_schemas
from rbac import label_selector_matches

EXAMPLES = ROOT / "examples"
MULTI = EXAMPLES / "multi-account"
GROUP = "iam.ssc-operator.dev/v1alpha1"
OWN_KINDS = {"ServiceSpecificCredential", "IAMIdentity"}
IAM_ACTIONS = {"iam:CreateServiceSpecificCredential", "iam:ListServiceSpecificCredentials",
               "iam:ResetServiceSpecificCredential", "iam:UpdateServiceSpecificCredential",
               "iam:DeleteServiceSpecificCredential"}
STS_ACTIONS = {"sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"}


def manifest_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".yaml", ".yml"))


def docs(path: Path) -> list[dict]:
    return parse_all(path.read_text())


def test_examples_hold_only_manifests_kubectl_reads_as_such():
    """`kubectl apply -R -f examples/` reads every .yaml, .yml and .json file: a JSON policy file there
    would be sent as an object. Policies belong in the READMEs."""
    assert manifest_files()
    assert not sorted(EXAMPLES.rglob("*.json"))
    for folder in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        assert (folder / "README.md").is_file(), folder.name


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_manifest_parses_and_is_valid(path):
    objects = docs(path)
    assert objects, path
    validate_schemas([o for o in objects if o["kind"] not in OWN_KINDS])
    for o in objects:
        if o["kind"] in OWN_KINDS:
            assert o["apiVersion"] == GROUP, o["metadata"]["name"]
            validate_against_crd(o)


# ---------------------------------------------------------------- examples/multi-account

def multi_account() -> dict[str, dict[str, dict]]:
    """kind -> name -> object of examples/multi-account."""
    out: dict[str, dict[str, dict]] = {}
    for path in sorted(MULTI.glob("*.yaml")):
        for o in docs(path):
            out.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    return out


def test_multi_account_files_apply_in_order():
    """kubectl applies a folder's files in name order: namespaces, then identities, then credentials."""
    names = sorted(p.name for p in MULTI.glob("*.yaml"))
    assert names[:2] == ["00-namespace.yaml", "01-identities.yaml"], names
    assert {o["kind"] for o in docs(MULTI / "00-namespace.yaml")} == {"Namespace"}
    assert {o["kind"] for o in docs(MULTI / "01-identities.yaml")} == {"IAMIdentity"}
    for name in names[2:]:
        assert {o["kind"] for o in docs(MULTI / name)} == {"ServiceSpecificCredential"}, name


def test_multi_account_is_what_the_demo_seeds():
    """The names `ssc-operator demo` seeds its emulator with (two accounts, two roles, two users)."""
    m = multi_account()
    assert set(m) == {"Namespace", "IAMIdentity", "ServiceSpecificCredential"}
    ns = m["Namespace"]
    assert set(ns) == {"payments", "analytics"}
    assert ns["payments"]["metadata"]["annotations"] == {"iam.ssc-operator.dev/identity": "payments",
                                                         "iam.ssc-operator.dev/allowed-users": "payments-*"}
    assert ns["analytics"]["metadata"]["annotations"] == {"iam.ssc-operator.dev/allowed-users": "analytics-*"}
    ids = m["IAMIdentity"]
    assert set(ids) == {"payments", "analytics"}
    assert ids["payments"]["spec"]["roleArn"] == "arn:aws:iam::123456789012:role/ssc-tenant-payments"
    assert "externalId" not in ids["payments"]["spec"]
    assert ids["analytics"]["spec"]["roleArn"] == "arn:aws:iam::210987654321:role/ssc-tenant-analytics"
    assert ids["analytics"]["spec"]["externalId"] == "ssc-demo-analytics"
    ssc = m["ServiceSpecificCredential"]
    assert set(ssc) == {"payments-git", "analytics-bedrock"}
    payments, analytics = ssc["payments-git"], ssc["analytics-bedrock"]
    assert payments["metadata"]["namespace"] == "payments"
    assert payments["spec"] == {"userName": "payments-git", "serviceName": "codecommit.amazonaws.com"}
    assert analytics["metadata"]["namespace"] == "analytics"
    assert analytics["spec"] == {"userName": "analytics-bedrock", "serviceName": "bedrock.amazonaws.com",
                                 "credentialAgeDays": 30, "identityRef": {"name": "analytics"}}
    for o in [*ids.values(), *ns.values()]:
        assert "namespace" not in o["metadata"], o["metadata"]["name"]


def _globs_match(globs: list[str], user: str) -> bool:
    # src/tenancy.rs: shell-style globs, case-insensitive (IAM user names are).
    return any(fnmatch.fnmatchcase(user.lower(), g.strip().lower()) for g in globs if g.strip())


def test_multi_account_credentials_are_allowed_by_their_identity_and_namespace():
    """Each credential's identity (spec.identityRef, else its namespace's annotation) exists, allows its
    namespace (by name or label selector) and its user; the namespace's allowed-users allows it too."""
    m = multi_account()
    for name, o in m["ServiceSpecificCredential"].items():
        ns = m["Namespace"][o["metadata"]["namespace"]]
        annotations = ns["metadata"].get("annotations", {})
        identity = (o["spec"].get("identityRef") or {}).get("name") or annotations.get("iam.ssc-operator.dev/identity")
        assert identity in m["IAMIdentity"], f"{name}: no IAMIdentity {identity!r}"
        spec = m["IAMIdentity"][identity]["spec"]
        allowed = spec.get("allowedNamespaces") or {}
        by_name = ns["metadata"]["name"] in (allowed.get("names") or [])
        by_label = "selector" in allowed and label_selector_matches(allowed["selector"],
                                                                    ns["metadata"].get("labels") or {})
        assert by_name or by_label, f"{name}: {identity} does not allow namespace {ns['metadata']['name']}"
        user = o["spec"]["userName"]
        assert _globs_match(spec.get("allowedUsers") or ["*"], user), f"{name}: {identity} does not allow {user}"
        assert _globs_match(annotations["iam.ssc-operator.dev/allowed-users"].split(","), user), name
    # And neither identity serves the other team's namespace.
    for identity, other in (("payments", "analytics"), ("analytics", "payments")):
        allowed = m["IAMIdentity"][identity]["spec"]["allowedNamespaces"]
        ns = m["Namespace"][other]
        assert other not in (allowed.get("names") or [])
        assert "selector" not in allowed or not label_selector_matches(allowed["selector"],
                                                                       ns["metadata"].get("labels") or {})


def _json_blocks(text: str) -> list[dict]:
    return [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#+ (.*)$", path.read_text(), re.M)}


def test_multi_account_readme():
    text = (MULTI / "README.md").read_text()
    for needle in ("kubectl get iamidentities", "kubectl get ssc -A", "kubectl apply -k deploy/multi-account",
                   "ambientIdentity: none", "--ambient-identity=none"):
        assert needle in text, needle
    for link, anchor in re.findall(r"\]\((\.[^)#]+)(?:#([^)]*))?\)", text):
        target = (MULTI / link).resolve()
        assert target.exists(), link
        if anchor:
            assert anchor in _anchors(target), f"{link}#{anchor}: no such heading"
    assert "../../README.md#least-privilege-an-aws-identity-per-tenant" in text
    ids = multi_account()["IAMIdentity"]
    roles = {i["spec"]["roleArn"] for i in ids.values()}
    policies = _json_blocks(text)
    assert len(policies) == 3
    for policy in policies:
        assert policy["Version"] == "2012-10-17"
        for s in policy["Statement"]:
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            assert s["Effect"] == "Allow" and "*" not in "".join(actions), s
            assert set(actions) <= IAM_ACTIONS | STS_ACTIONS, actions
    base, trust, permissions = policies
    # The base identity: STS on exactly the tenant roles, no IAM action.
    [statement] = base["Statement"]
    assert set(statement["Action"]) == STS_ACTIONS and set(statement["Resource"]) == roles
    # The analytics trust policy: the base role, the external id of its IAMIdentity, its namespace.
    analytics = ids["analytics"]["spec"]
    assume = trust["Statement"][0]
    assert "Principal" in assume and set(assume["Action"]) == {"sts:AssumeRole", "sts:SetSourceIdentity"}
    assert assume["Condition"]["StringEquals"]["sts:ExternalId"] == analytics["externalId"]
    assert assume["Condition"]["StringEquals"]["aws:RequestTag/ssc-namespace"] == ["analytics"]
    assert trust["Statement"][1]["Action"] == "sts:TagSession"
    # The analytics permissions: IAM only, its users only, Bedrock keys within the example's 30 days.
    account = analytics["roleArn"].split(":")[4]
    for s in permissions["Statement"]:
        assert s["Resource"] == f"arn:aws:iam::{account}:user/analytics-*", s
    create = [s for s in permissions["Statement"] if s["Action"] == "iam:CreateServiceSpecificCredential"]
    [create] = create
    days = multi_account()["ServiceSpecificCredential"]["analytics-bedrock"]["spec"]["credentialAgeDays"]
    assert int(create["Condition"]["NumericLessThanEquals"]["iam:ServiceSpecificCredentialAgeDays"]) >= days
    assert create["Condition"]["StringEquals"]["iam:ServiceSpecificCredentialServiceName"] == ["bedrock.amazonaws.com"]


def _chart_readme_values() -> dict:
    blocks = re.findall(r"```yaml\n(# values-multi-account\.yaml\n.*?)```", (CHART / "README.md").read_text(), re.S)
    assert len(blocks) == 1, "the chart README's values-multi-account.yaml"
    return yaml.safe_load(blocks[0])


def test_chart_readme_values_make_the_example_identities():
    """The chart README's multi-account values render the IAMIdentities this example applies, and the
    operator with --ambient-identity=none and the IRSA role of deploy/multi-account."""
    values = _chart_readme_values()
    r = helm.render(values)
    rendered = {o["metadata"]["name"]: o["spec"] for o in r.kind("IAMIdentity")}
    assert rendered == {name: o["spec"] for name, o in multi_account()["IAMIdentity"].items()}
    op = r.one("Deployment", "ssc-operator")["spec"]["template"]["spec"]
    [manager] = [c for c in op["containers"] if c["name"] == "manager"]
    assert "--ambient-identity=none" in manager["args"]
    assert "AWS credentials: none configured" not in r.notes, "the IRSA annotation is the base identity"
    sa = r.one("ServiceAccount", "ssc-operator")
    overlay = yaml.safe_load((ROOT / "deploy" / "multi-account" / "serviceaccount-patch.yaml").read_text())
    assert sa["metadata"]["annotations"] == overlay["metadata"]["annotations"]
