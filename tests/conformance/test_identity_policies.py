"""README "Least privilege: an AWS identity per tenant": its four policies, taken from README.md at test time by their
`<!-- policy: NAME -->` markers, run in an enforcing emulator with two accounts and driven with boto3 exactly as the
operator calls STS and IAM for an `IAMIdentity`.

Account A (123456789012) holds the operator's base identity, the role `ssc-operator` with README's operator-base
policy. IRSA would hand the operator a session of it through AssumeRoleWithWebIdentity, which the emulator does not
serve: a user of A trusted by the role stands in for the web identity, so the operator's calls start, as on EKS,
from a session of `ssc-operator` (the tenant role is then assumed by role chaining). Account B (210987654321) holds
the tenant roles (README's trust policy, one permission policy each) and the tenants' users, tagged with their
namespace or made under `/tenants/<namespace>/`.

The operator assumes a tenant role with RoleSessionName `ssc-<namespace>`, SourceIdentity `ssc-operator`, the session
tags `ssc-namespace=<namespace>` and `ssc-name=<IAMIdentity>`, and the IAMIdentity's `externalId` (issue #19).
"""

from __future__ import annotations

import copy
import json
import re

import pytest

from conftest import (ACCOUNT, ACCOUNT_B, REPO, ROOT_ACCESS_KEY, ROOT_B_ACCESS_KEY, ROOT_B_KEY, ROOT_B_SECRET, ROOT_KEY,
                      ROOT_SECRET, access_denied_message, aws_client, expect_access_denied, expect_error, make_actor,
                      policy_doc, session_client, start_enforcing)

README = REPO / "README.md"
SECTION = "### Least privilege: an AWS identity per tenant"
MARKERS = ("operator-base", "tenant-trust", "tenant-permissions-by-tag", "tenant-permissions-by-path")

# the README's IAMIdentity example
IDENTITY = "analytics"
NAMESPACE = "analytics"
EXTERNAL_ID = "ssc-analytics-7f3a"
SOURCE_IDENTITY = "ssc-operator"
OPERATOR_ROLE = "ssc-operator"
OPERATOR_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{OPERATOR_ROLE}"
# one tenant role per permission policy (both match the base policy's `role/ssc-tenant-*`)
TENANT_ROLES = {"by-tag": "ssc-tenant-analytics", "by-path": "ssc-tenant-analytics-paths"}

CC = "codecommit.amazonaws.com"
BR = "bedrock.amazonaws.com"
FIVE = ["iam:CreateServiceSpecificCredential", "iam:ListServiceSpecificCredentials",
        "iam:ResetServiceSpecificCredential", "iam:UpdateServiceSpecificCredential",
        "iam:DeleteServiceSpecificCredential"]
LIST = "iam:ListServiceSpecificCredentials"

# Account B's users: (path, tags). The platform team tags (or places) each one; the tenant roles never can.
USERS = {
    "analytics-git": ("/", {"ssc-namespace": "analytics"}),
    "payments-git": ("/", {"ssc-namespace": "payments"}),
    "untagged-git": ("/", {}),
    "analytics-reader": ("/tenants/analytics/", {}),
    "payments-reader": ("/tenants/payments/", {}),
    "eu-reader": ("/tenants/analytics-eu/", {}),
    "root-path-reader": ("/", {}),
}
# what each variant's analytics session may reach, and what it must not
OWN = {"by-tag": "analytics-git", "by-path": "analytics-reader"}
FOREIGN = {"by-tag": ["payments-git", "untagged-git", "analytics-reader"],
           "by-path": ["payments-reader", "eu-reader", "root-path-reader", "analytics-git"]}


# -- the README ------------------------------------------------------------------------------------------------------


def readme_policy_text(name: str) -> str:
    """The body of the ```json block right after `<!-- policy: NAME -->` in README.md; fails loudly without it."""
    text = README.read_text()
    marker = f"<!-- policy: {name} -->"
    count = text.count(marker)
    if count != 1:
        pytest.fail(f"README.md has {count} {marker!r} markers, expected exactly one (section {SECTION!r})")
    m = re.search(re.escape(marker) + r"[ \t]*\n```json[ \t]*\n(?P<body>.*?)^```[ \t]*$", text, re.S | re.M)
    if m is None:
        pytest.fail(f"README.md: {marker!r} is not followed directly by a ```json block")
    return m.group("body")


def readme_policy(name: str) -> dict:
    return json.loads(readme_policy_text(name))


def statements(doc: dict) -> list[dict]:
    st = doc["Statement"]
    return st if isinstance(st, list) else [st]


def readme_section() -> str:
    text = README.read_text()
    start = text.find(SECTION)
    assert start >= 0, f"README.md lacks {SECTION!r}"
    end = text.find("\n## ", start)
    return text[start:end if end >= 0 else len(text)]


def trust_for(namespace: str, identity: str, external_id: str) -> str:
    """README's tenant trust policy made for another tenant: its namespace, IAMIdentity name and external id in place
    of the example's, whatever operator each condition uses."""
    doc = readme_policy("tenant-trust")
    values = {"aws:requesttag/ssc-namespace": namespace, "aws:requesttag/ssc-name": identity,
              "sts:externalid": external_id}
    replaced = set()
    for st in statements(doc):
        for block in st.get("Condition", {}).values():
            for key in block:
                if key.lower() in values:
                    new = values[key.lower()]
                    block[key] = [new] if isinstance(block[key], list) else new
                    replaced.add(key.lower())
    assert replaced == set(values), f"README's trust policy no longer conditions on {set(values) - replaced}"
    return json.dumps(doc)


# -- the world ------------------------------------------------------------------------------------------------------


class World:
    def __init__(self, e):
        self.e = e
        self.root = aws_client(e, "iam", key=ROOT_KEY, secret=ROOT_SECRET)
        self.root_b = aws_client(e, "iam", key=ROOT_B_KEY, secret=ROOT_B_SECRET)
        self.seq = 0

    def name(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{self.seq}"

    def base_session(self) -> dict:
        """The operator's base identity: a fresh session of `ssc-operator` (what IRSA would give it)."""
        return self.irsa.sts.assume_role(RoleArn=OPERATOR_ROLE_ARN, RoleSessionName="ssc-operator-pod")["Credentials"]

    def base_sts(self):
        return session_client(self.e, "sts", self.base_session())

    def clear(self, user: str) -> None:
        for c in self.root_b.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]:
            self.root_b.delete_service_specific_credential(UserName=user,
                                                           ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])


BASE_SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/{OPERATOR_ROLE}/ssc-operator-pod"


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_B}:role/{name}"


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    e = start_enforcing(tmp_path_factory.mktemp("identity"), access_keys=(ROOT_ACCESS_KEY, ROOT_B_ACCESS_KEY),
                        accounts=(ACCOUNT_B,), name="identity")
    world = World(e)
    # account A: the operator's base role and the stand-in for IRSA's web identity
    world.irsa = make_actor(e, world.root, "irsa-stand-in")
    world.root.create_role(RoleName=OPERATOR_ROLE, AssumeRolePolicyDocument=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": world.irsa.arn}, "Action": "sts:AssumeRole"}))
    world.root.put_role_policy(RoleName=OPERATOR_ROLE, PolicyName="operator-base",
                               PolicyDocument=readme_policy_text("operator-base"))
    # account B: the tenants' users and roles. MaxSessionDuration 12 h, so that only role chaining can cap a session.
    for user, (path, tags) in USERS.items():
        kw = {"UserName": user, "Path": path}
        if tags:
            kw["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        world.root_b.create_user(**kw)
    for variant, name in TENANT_ROLES.items():
        world.root_b.create_role(RoleName=name, AssumeRolePolicyDocument=readme_policy_text("tenant-trust"),
                                 MaxSessionDuration=43200)
        world.root_b.put_role_policy(RoleName=name, PolicyName="ssc",
                                     PolicyDocument=readme_policy_text(f"tenant-permissions-{variant}"))
    # a second tenant, made from the same README templates: namespace and IAMIdentity `payments`
    world.root_b.create_role(RoleName="ssc-tenant-payments", AssumeRolePolicyDocument=trust_for(
        "payments", "payments", "ssc-payments-1b2c"))
    world.root_b.put_role_policy(RoleName="ssc-tenant-payments", PolicyName="ssc",
                                 PolicyDocument=readme_policy_text("tenant-permissions-by-tag"))
    yield world
    e.stop()


def operator_assume(sts, role: str, *, namespace: str = NAMESPACE, identity: str = IDENTITY,
                    external_id: str | None = EXTERNAL_ID, source_identity: str | None = SOURCE_IDENTITY,
                    tags: list[dict] | None = None, **kw) -> dict:
    """AssumeRole as the operator sends it for an IAMIdentity; `None` leaves a parameter out, `tags` replaces the two
    session tags."""
    args = {"RoleArn": role_arn(role), "RoleSessionName": f"ssc-{namespace}"[:64], **kw}
    if external_id is not None:
        args["ExternalId"] = external_id
    if source_identity is not None:
        args["SourceIdentity"] = source_identity
    args["Tags"] = tags if tags is not None else [{"Key": "ssc-namespace", "Value": namespace},
                                                  {"Key": "ssc-name", "Value": identity}]
    if not args["Tags"]:
        del args["Tags"]
    return sts.assume_role(**args)


def tenant_iam(w: World, variant: str, **kw):
    out = operator_assume(w.base_sts(), TENANT_ROLES[variant], **kw)
    return session_client(w.e, "iam", out["Credentials"])


def session_arn(role: str, namespace: str = NAMESPACE) -> str:
    return f"arn:aws:sts::{ACCOUNT_B}:assumed-role/{role}/ssc-{namespace}"


def denied_assume(fn, role: str, actions) -> str:
    """fn() is refused by STS: `User: <base session> is not authorized to perform: <one of actions> on resource:
    <role ARN>` (iam-api.md §18: STS names the role ARN)."""
    msg = expect_access_denied(fn)
    heads = [access_denied_message(BASE_SESSION_ARN, a, role_arn(role)) for a in actions]
    assert any(msg.startswith(h) for h in heads), f"expected one of {heads}, got {msg!r}"
    return msg


# -- the README's policies ------------------------------------------------------------------------------------------


def test_readme_marks_the_four_policies():
    # every marker once, each right before a ```json block that is a 2012-10-17 policy (variables need that version:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html), all in the section
    section = readme_section()
    for name in MARKERS:
        assert f"<!-- policy: {name} -->" in section, f"{name} is outside {SECTION!r}"
        assert readme_policy(name)["Version"] == "2012-10-17", name
    base = readme_policy("operator-base")
    assert {a for st in statements(base) for a in st["Action"]} == {"sts:AssumeRole", "sts:TagSession",
                                                                      "sts:SetSourceIdentity"}
    assert [st["Resource"] for st in statements(base)] == ["arn:aws:iam::*:role/ssc-tenant-*"]
    trust = readme_policy_text("tenant-trust")
    for needle in (OPERATOR_ROLE_ARN, EXTERNAL_ID, f'"sts:SourceIdentity": "{SOURCE_IDENTITY}"',
                   '"aws:RequestTag/ssc-namespace": ["analytics"]', "sts:TagSession", "sts:SetSourceIdentity"):
        assert needle in trust, needle
    # account A is the operator's, B the tenant's, consistently
    assert set(re.findall(r"arn:aws:iam::(\d{12}):", trust)) == {ACCOUNT}
    for variant in ("by-tag", "by-path"):
        doc = readme_policy(f"tenant-permissions-{variant}")
        assert set(re.findall(r"arn:aws:iam::(\d{12}):", json.dumps(doc))) == {ACCOUNT_B}, variant
        assert sorted(a for st in statements(doc) for a in st["Action"]) == sorted(FIVE), variant
        assert "iam:TagUser" not in json.dumps(doc) and "iam:UntagUser" not in json.dumps(doc)
    assert "${aws:PrincipalTag/ssc-namespace}" in json.dumps(readme_policy("tenant-permissions-by-tag"))
    assert statements(readme_policy("tenant-permissions-by-path"))[0]["Resource"] == \
        f"arn:aws:iam::{ACCOUNT_B}:user/tenants/${{aws:PrincipalTag/ssc-namespace}}/*"


def test_readme_says_what_all_users_lists_get():
    # the sentence test_all_users_list_is_access_denied backs
    section = readme_section()
    assert "AllUsers=true" in section and "AccessDenied" in section and "falls back to one List per user" in section


# -- the operator's session -----------------------------------------------------------------------------------------


def test_the_operator_gets_the_session_it_asked_for(w):
    # AssumedRoleUser "arn:aws:sts::<role account>:assumed-role/<role>/<session name>", SourceIdentity echoed,
    # PackedPolicySize with tags (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html)
    out = operator_assume(w.base_sts(), TENANT_ROLES["by-tag"])
    assert out["AssumedRoleUser"]["Arn"] == session_arn(TENANT_ROLES["by-tag"])
    assert out["SourceIdentity"] == SOURCE_IDENTITY
    assert 0 < out["PackedPolicySize"] <= 100
    me = session_client(w.e, "sts", out["Credentials"]).get_caller_identity()
    assert (me["Account"], me["Arn"]) == (ACCOUNT_B, session_arn(TENANT_ROLES["by-tag"]))


def test_session_name_is_cut_to_64_characters(w):
    # RoleSessionName is at most 64 characters (API_AssumeRole.html: "Length Constraints: Minimum length of 2. Maximum
    # length of 64."): `ssc-<namespace>` of a 63-character namespace is cut; the trust policy does not mind
    long_ns = "a" * 63
    role = w.name("ssc-tenant-long")
    w.root_b.create_role(RoleName=role, AssumeRolePolicyDocument=trust_for(long_ns, IDENTITY, EXTERNAL_ID))
    out = operator_assume(w.base_sts(), role, namespace=long_ns)
    assert out["AssumedRoleUser"]["Arn"].endswith("/ssc-" + "a" * 60)


@pytest.mark.parametrize("variant", ["by-tag", "by-path"])
def test_tenant_session_manages_its_own_users(w, variant):
    # everything the operator does for a resource of its namespace: Create, List (per user), Reset, Update, Delete
    iam = tenant_iam(w, variant)
    user = OWN[variant]
    try:
        c = iam.create_service_specific_credential(UserName=user, ServiceName=CC)["ServiceSpecificCredential"]
        cid = c["ServiceSpecificCredentialId"]
        assert c["ServiceUserName"] == f"{user}-at-{ACCOUNT_B}" and c["ServicePassword"]
        key = iam.create_service_specific_credential(UserName=user, ServiceName=BR, CredentialAgeDays=30)[
            "ServiceSpecificCredential"]
        assert key["ServiceCredentialSecret"].startswith("ABSK")
        listed = iam.list_service_specific_credentials(UserName=user, ServiceName=CC)["ServiceSpecificCredentials"]
        assert [x["ServiceSpecificCredentialId"] for x in listed] == [cid]
        reset = iam.reset_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid)[
            "ServiceSpecificCredential"]
        assert reset["ServicePassword"] and reset["ServicePassword"] != c["ServicePassword"]
        iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid, Status="Inactive")
        iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid, Status="Active")
        for x in (cid, key["ServiceSpecificCredentialId"]):
            iam.delete_service_specific_credential(UserName=user, ServiceSpecificCredentialId=x)
        assert iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"] == []
    finally:
        w.clear(user)


def _five_calls(iam, user: str, cid: str) -> dict:
    return {
        "iam:CreateServiceSpecificCredential": lambda: iam.create_service_specific_credential(UserName=user,
                                                                                             ServiceName=CC),
        "iam:ListServiceSpecificCredentials": lambda: iam.list_service_specific_credentials(UserName=user),
        "iam:ResetServiceSpecificCredential": lambda: iam.reset_service_specific_credential(
            UserName=user, ServiceSpecificCredentialId=cid),
        "iam:UpdateServiceSpecificCredential": lambda: iam.update_service_specific_credential(
            UserName=user, ServiceSpecificCredentialId=cid, Status="Inactive"),
        "iam:DeleteServiceSpecificCredential": lambda: iam.delete_service_specific_credential(
            UserName=user, ServiceSpecificCredentialId=cid),
    }


@pytest.mark.parametrize("variant", ["by-tag", "by-path"])
def test_other_namespaces_users_are_access_denied(w, variant):
    # the operator asks (a bug, a mis-set annotation): IAM refuses, with its message "User: <session> is not
    # authorized to perform: <action> on resource: user <name> because no identity-based policy allows the <action>
    # action" (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html, iam-api.md §18)
    iam = tenant_iam(w, variant)
    who = session_arn(TENANT_ROLES[variant])
    for user in FOREIGN[variant]:
        cid = w.root_b.create_service_specific_credential(UserName=user, ServiceName=CC)["ServiceSpecificCredential"][
            "ServiceSpecificCredentialId"]
        try:
            for action, fn in _five_calls(iam, user, cid).items():
                expect_access_denied(fn, who=who, action=action, resource=f"user {user}", reason="identity")
            # nothing changed: the credential is still there and Active
            listed = w.root_b.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
            assert [(x["ServiceSpecificCredentialId"], x["Status"]) for x in listed] == [(cid, "Active")], user
        finally:
            w.clear(user)


def test_each_tenant_reaches_only_its_own_users(w):
    # the same README templates for a second tenant (namespace and IAMIdentity `payments`): symmetric
    out = operator_assume(w.base_sts(), "ssc-tenant-payments", namespace="payments", identity="payments",
                          external_id="ssc-payments-1b2c")
    payments = session_client(w.e, "iam", out["Credentials"])
    analytics = tenant_iam(w, "by-tag")
    assert payments.list_service_specific_credentials(UserName="payments-git")["ServiceSpecificCredentials"] == []
    assert analytics.list_service_specific_credentials(UserName="analytics-git")["ServiceSpecificCredentials"] == []
    expect_access_denied(lambda: payments.list_service_specific_credentials(UserName="analytics-git"),
                         who=session_arn("ssc-tenant-payments", "payments"), action=LIST, resource="user analytics-git",
                         reason="identity")
    # and the analytics identity's external id does not open the payments role
    denied_assume(lambda: operator_assume(w.base_sts(), "ssc-tenant-payments", namespace="payments",
                                          identity="payments"), "ssc-tenant-payments",
                  ["sts:AssumeRole", "sts:SetSourceIdentity"])


def test_by_path_session_for_another_namespace_reaches_only_that_path(w):
    # a by-path session tagged for namespace X reaches /tenants/X/ only: here X = payments (a role made from the README
    # trust template for payments, with the by-path permissions)
    role = w.name("ssc-tenant-payments-paths")
    w.root_b.create_role(RoleName=role, AssumeRolePolicyDocument=trust_for("payments", "payments", "ssc-payments-1b2c"))
    w.root_b.put_role_policy(RoleName=role, PolicyName="ssc", PolicyDocument=readme_policy_text(
        "tenant-permissions-by-path"))
    out = operator_assume(w.base_sts(), role, namespace="payments", identity="payments",
                          external_id="ssc-payments-1b2c")
    iam = session_client(w.e, "iam", out["Credentials"])
    assert iam.list_service_specific_credentials(UserName="payments-reader")["ServiceSpecificCredentials"] == []
    for user in ("analytics-reader", "eu-reader", "payments-git"):
        expect_access_denied(lambda: iam.list_service_specific_credentials(UserName=user),
                             who=session_arn(role, "payments"), action=LIST, resource=f"user {user}", reason="identity")


@pytest.mark.parametrize("variant", ["by-tag", "by-path"])
def test_tenant_role_cannot_move_users_into_its_namespace(w, variant):
    # the platform team tags users; the tenant roles have no iam:TagUser / iam:UntagUser (README)
    iam = tenant_iam(w, variant)
    who = session_arn(TENANT_ROLES[variant])
    expect_access_denied(lambda: iam.tag_user(UserName="payments-git", Tags=[{"Key": "ssc-namespace",
                                                                              "Value": NAMESPACE}]),
                         who=who, action="iam:TagUser", resource="user payments-git", reason="identity")
    expect_access_denied(lambda: iam.untag_user(UserName="analytics-git", TagKeys=["ssc-namespace"]),
                         who=who, action="iam:UntagUser", resource="user analytics-git", reason="identity")
    assert w.root_b.get_user(UserName="payments-git")["User"]["Tags"] == [{"Key": "ssc-namespace", "Value": "payments"}]


@pytest.mark.parametrize("variant", ["by-tag", "by-path"])
def test_all_users_list_is_access_denied(w, variant):
    # ListServiceSpecificCredentials with AllUsers=true is authorized against arn:aws:iam::B:user/* (emulator, as
    # README's "IAM permissions" says of IAM): no user's tag, no tenant path, so neither tenant policy allows it and the
    # operator lists per user (README); the per-user list of its own user works
    iam = tenant_iam(w, variant)
    expect_access_denied(lambda: iam.list_service_specific_credentials(AllUsers=True, ServiceName=CC),
                         who=session_arn(TENANT_ROLES[variant]), action=LIST,
                         resource=f"arn:aws:iam::{ACCOUNT_B}:user/*", reason="identity")
    assert iam.list_service_specific_credentials(UserName=OWN[variant], ServiceName=CC)[
        "ServiceSpecificCredentials"] == []


# -- what STS refuses -------------------------------------------------------------------------------------------------

ROLE = TENANT_ROLES["by-tag"]
# the first statement holds the external id and the source identity for sts:AssumeRole; AWS may name either action
# when the source identity is wrong (the second statement checks it for sts:SetSourceIdentity)
ASSUME = ["sts:AssumeRole"]
ASSUME_OR_SOURCE = ["sts:AssumeRole", "sts:SetSourceIdentity"]


@pytest.mark.parametrize("label,kw,actions", [
    # "sts:ExternalId": a missing key does not match StringEquals ("If the key that you specify in a policy condition
    # is not present in the request context, the values do not match", condition_operators page)
    ("wrong external id", dict(external_id="ssc-analytics-0000"), ASSUME),
    ("no external id", dict(external_id=None), ASSUME),
    ("another identity's external id", dict(external_id="ssc-payments-1b2c"), ASSUME),
    # "sts:SourceIdentity": "ssc-operator" (AWS's "Example role trust policy for source identity")
    ("no source identity", dict(source_identity=None), ASSUME),
    ("another source identity", dict(source_identity="someone-else"), ASSUME_OR_SOURCE),
    # the sts:TagSession statement: aws:RequestTag/ssc-namespace lists the namespaces the role serves ("you can allow
    # the principal to pass the specified session tags, but only with the specified values", id_session-tags.html)
    ("a namespace the trust does not list", dict(namespace="payments"), ["sts:TagSession"]),
    ("a namespace that only starts like it", dict(namespace="analytics-eu"), ["sts:TagSession"]),
    # only the two keys ("This condition key limits the maximum set of session tags that can be passed"), ssc-name
    # only the IAMIdentity's
    ("a third tag", dict(tags=[{"Key": "ssc-namespace", "Value": NAMESPACE}, {"Key": "ssc-name", "Value": IDENTITY},
                               {"Key": "team", "Value": "payments"}]), ["sts:TagSession"]),
    ("another IAMIdentity's name", dict(identity="payments"), ["sts:TagSession"]),
    ("no ssc-name tag", dict(tags=[{"Key": "ssc-namespace", "Value": NAMESPACE}]), ["sts:TagSession"]),
])
def test_trust_policy_refuses(w, label, kw, actions):
    sts = w.base_sts()
    denied_assume(lambda: operator_assume(sts, ROLE, **kw), ROLE, actions)
    assert operator_assume(sts, ROLE)["AssumedRoleUser"]["Arn"] == session_arn(ROLE)  # the operator's own call works


@pytest.mark.parametrize("variant", ["by-tag", "by-path"])
def test_sessions_without_a_namespace_reach_nobody(w, variant):
    # the operator's status check of an IAMIdentity: session name `ssc-operator`, only the ssc-name tag. README's trust
    # admits it (StringEqualsIfExists on the namespace tag) and GetCallerIdentity names the role; like a session with
    # no tags at all, it has no aws:PrincipalTag/ssc-namespace, so neither permission policy matches any user ("not
    # present means that the value is not in the current request information, and any attempt to match it fails",
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html)
    role = TENANT_ROLES[variant]
    probes = {
        "ssc-operator": [{"Key": "ssc-name", "Value": IDENTITY}],
        "ssc-untagged": [],
    }
    for session, tags in probes.items():
        out = operator_assume(w.base_sts(), role, tags=tags, RoleSessionName=session)
        who = f"arn:aws:sts::{ACCOUNT_B}:assumed-role/{role}/{session}"
        assert session_client(w.e, "sts", out["Credentials"]).get_caller_identity()["Arn"] == who
        iam = session_client(w.e, "iam", out["Credentials"])
        for user in USERS:
            expect_access_denied(lambda: iam.list_service_specific_credentials(UserName=user),
                                 who=who, action=LIST, resource=f"user {user}", reason="identity")


def test_a_principal_the_trust_policy_does_not_name_is_refused(w):
    # even with README's base policy: cross-account, both the caller's policy and the trust policy must allow
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html)
    other = make_actor(w.e, w.root, w.name("not-the-operator"), policies={"base": readme_policy_text("operator-base")})
    msg = expect_access_denied(lambda: operator_assume(other.sts, ROLE))
    assert msg.startswith(access_denied_message(other.arn, "sts:AssumeRole", role_arn(ROLE))), msg


def _with_base_policy(w: World, doc: dict | None):
    """Replaces ssc-operator's policy (None: none) for a `with` block; README's is put back after."""
    class Swap:
        def __enter__(self):
            w.root.delete_role_policy(RoleName=OPERATOR_ROLE, PolicyName="operator-base")
            if doc is not None:
                w.root.put_role_policy(RoleName=OPERATOR_ROLE, PolicyName="operator-base",
                                       PolicyDocument=json.dumps(doc))

        def __exit__(self, *exc):
            w.root.put_role_policy(RoleName=OPERATOR_ROLE, PolicyName="operator-base",
                                   PolicyDocument=readme_policy_text("operator-base"))

    return Swap()


def _base_without(action: str) -> dict:
    doc = copy.deepcopy(readme_policy("operator-base"))
    for st in statements(doc):
        st["Action"] = [a for a in st["Action"] if a != action]
    return doc


@pytest.mark.parametrize("missing", [None, "sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"])
def test_base_identity_needs_each_action_of_the_base_policy(w, missing):
    # "To set a source identity across account boundaries, you must include the sts:SetSourceIdentity permission in
    # two places. It must be in the permissions policy of the principal in the originating account and in the role
    # trust policy of the role in the target account." (id_credentials_temp_control-access_monitor.html); the same for
    # sts:TagSession ("you must have the following permissions-only action in your policy", id_session-tags.html)
    # and sts:AssumeRole (cross-account evaluation logic). None: no policy at all.
    doc = None if missing is None else _base_without(missing)
    sts = w.base_sts()
    with _with_base_policy(w, doc):
        action = missing or "sts:AssumeRole"
        msg = expect_access_denied(lambda: operator_assume(sts, ROLE))
        assert msg == access_denied_message(BASE_SESSION_ARN, action, role_arn(ROLE), "identity"), msg
    assert operator_assume(sts, ROLE)  # README's policy back: allowed again


def test_base_policy_reaches_only_ssc_tenant_roles(w):
    # Resource arn:aws:iam::*:role/ssc-tenant-*: a role in B that trusts the operator without conditions, but is not
    # named ssc-tenant-*, cannot be assumed
    name = w.name("platform-admin")
    w.root_b.create_role(RoleName=name, AssumeRolePolicyDocument=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": OPERATOR_ROLE_ARN},
         "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}))
    msg = expect_access_denied(lambda: operator_assume(w.base_sts(), name))
    assert msg == access_denied_message(BASE_SESSION_ARN, "sts:AssumeRole", role_arn(name), "identity"), msg


def test_session_duration_over_an_hour_fails_from_a_role_session(w):
    # README: an IRSA or Pod Identity base identity is a role session, so the tenant role is assumed by role chaining:
    # "if you assume a role using role chaining and provide a DurationSeconds parameter value greater than one hour,
    # the operation fails." (API_AssumeRole.html) — even though the tenant role allows 12 h
    raw = session_client(w.e, "sts", w.base_session(), validate=False)
    expect_error(raw, lambda: operator_assume(raw, ROLE, DurationSeconds=7200), code="ValidationError", status=400,
                 message="The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role "
                         "chaining.")
    for seconds in (900, 3600):
        assert operator_assume(raw, ROLE, DurationSeconds=seconds)
