"""Policy-as-test: every IAM policy in README.md and docs/*.md, extracted from the markdown at test time, is loaded
into an enforcing emulator and driven with boto3; what the text says it allows is allowed, what it says it refuses
gets AccessDenied. The guardrail README describes in prose is tests/conformance/policies/guardrail-api-key-age.json.

Also the refusals of bad policy documents (MalformedPolicyDocument, LimitExceeded), never a 5xx.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import (ACCOUNT, ACCOUNT_B, REPO, ROOT_KEY, ROOT_SECRET, aws_client, expect_access_denied, expect_error, policy_doc, start_enforcing)
from test_enforce import World, attempt

CC = "codecommit.amazonaws.com"
KS = "cassandra.amazonaws.com"
BR = "bedrock.amazonaws.com"
FIVE = ["iam:CreateServiceSpecificCredential", "iam:ListServiceSpecificCredentials",
        "iam:ResetServiceSpecificCredential", "iam:UpdateServiceSpecificCredential",
        "iam:DeleteServiceSpecificCredential"]
GUARDRAIL_FILE = Path(__file__).parent / "policies" / "guardrail-api-key-age.json"


# -- the markdown --------------------------------------------------------------------------------------------------


@dataclass
class Block:
    file: str      # relative to the repo
    line: int      # of the opening fence
    offset: int    # character offset of the opening fence in the file
    text: str      # dedented body

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"

    def policy(self) -> dict:
        return json.loads(self.text)


FENCE = re.compile(r"^(?P<indent>[ \t]*)```json[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)


def markdown_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def json_blocks(path: Path) -> list[Block]:
    text = path.read_text()
    out = []
    for m in FENCE.finditer(text):
        indent = len(m.group("indent"))
        body = "\n".join(line[indent:] if line[:indent].strip() == "" else line
                         for line in m.group("body").splitlines())
        out.append(Block(str(path.relative_to(REPO)), text.count("\n", 0, m.start()) + 1, m.start(), body))
    return out


def all_blocks() -> list[Block]:
    return [b for p in markdown_files() for b in json_blocks(p)]


def policy_blocks() -> list[Block]:
    return [b for b in all_blocks() if '"Statement"' in b.text]


def block_after(file: str, marker: str, *, statement: bool | None = True) -> Block:
    """The first json block of `file` after the text `marker` (with/without "Statement")."""
    text = (REPO / file).read_text()
    at = text.find(marker)
    assert at >= 0, f"{file} no longer contains {marker!r}: update this test with the doc"
    for b in json_blocks(REPO / file):
        if b.offset > at and (statement is None or (('"Statement"' in b.text) == statement)):
            return b
    raise AssertionError(f"no json block after {marker!r} in {file}")


def is_trust(doc: dict) -> bool:
    return any("Principal" in st or "NotPrincipal" in st for st in statements(doc))


def statements(doc: dict) -> list[dict]:
    st = doc["Statement"]
    return st if isinstance(st, list) else [st]


def test_the_docs_have_the_policies_this_module_relies_on():
    ids = [b.id for b in policy_blocks()]
    assert len(ids) >= 9, ids  # README: 2 + 4 (least privilege), install.md: 1 identity + 2 trust policies
    assert any(b.file == "README.md" for b in policy_blocks())
    assert any(b.file == "docs/install.md" for b in policy_blocks())


# The docs' placeholder accounts: 123456789012 (the operator's) and, in README's "Least privilege: an AWS identity per
# tenant", 210987654321 (a tenant's; those policies run in two accounts in test_identity_policies.py).
PLACEHOLDER_ACCOUNTS = (ACCOUNT, ACCOUNT_B)


@pytest.mark.parametrize("block", policy_blocks(), ids=lambda b: b.id)
def test_every_documented_policy_is_valid_json_for_the_placeholder_accounts(block):
    doc = block.policy()
    assert doc.get("Version") == "2012-10-17", block.id
    for arn in re.findall(r"arn:aws:iam::(\d{12}):", block.text):
        assert arn in PLACEHOLDER_ACCOUNTS, f"{block.id}: account {arn}"


# -- the emulator ------------------------------------------------------------------------------------------------

TARGETS = {"tgt": "/", "managed-app": "/ssc-managed/", "deep-app": "/ssc-managed/team/", "other-app": "/other/"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    e = start_enforcing(tmp_path_factory.mktemp("docs"), name="docs")
    w = World(e)
    for name, path in TARGETS.items():
        w.root.create_user(UserName=name, Path=path)
    yield w
    e.stop()


@pytest.mark.parametrize("block", policy_blocks(), ids=lambda b: b.id)
def test_every_documented_policy_loads(world, block):
    # identity policies load as user policies; trust policies (pods.eks.amazonaws.com, OIDC) with CreateRole
    doc = block.policy()
    if is_trust(doc):
        ensure_principals(world, doc)
        name = world.user_name("doc-role")
        world.root.create_role(RoleName=name, AssumeRolePolicyDocument=block.text)
        # botocore decodes the URL-encoded document (iam-api.md §16.2)
        assert world.root.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == doc
    else:
        a = world.actor(statements=statements(doc))
        got = world.root.get_user_policy(UserName=a.name, PolicyName="p")["PolicyDocument"]
        assert got == json.loads(policy_doc(*statements(doc)))
        attempt(world, a.iam, "list")  # evaluates: allowed or AccessDenied, nothing else


def ensure_principals(world, doc: dict) -> None:
    """Makes the roles and users of this account that a trust policy names (IAM refuses a trust policy naming a
    principal that does not exist: `Invalid principal in policy`), e.g. README's operator role `ssc-operator`."""
    for st in statements(doc):
        arns = (st.get("Principal") or {}).get("AWS", []) if isinstance(st.get("Principal"), dict) else []
        for arn in [arns] if isinstance(arns, str) else arns:
            m = re.fullmatch(rf"arn:aws:iam::{ACCOUNT}:(role|user)(/(?:.*/)?)([^/]+)", arn)
            if m is None:
                continue
            kind, path, name = m.groups()
            try:
                if kind == "role":
                    world.root.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=policy_doc(
                        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                         "Action": "sts:AssumeRole"}))
                else:
                    world.root.create_user(UserName=name, Path=path)
            except ClientError as ex:
                if ex.response["Error"]["Code"] != "EntityAlreadyExists":
                    raise


def _table(w, client, expected: dict) -> None:
    got = {label: attempt(w, client, label) for label in expected}
    assert got == expected


def _all_users_list(client, service=CC) -> bool:
    try:
        client.list_service_specific_credentials(AllUsers=True, ServiceName=service)
        return True
    except ClientError as ex:
        if ex.response["Error"]["Code"] == "AccessDenied":
            return False
        raise


# -- README: "IAM permissions" -------------------------------------------------------------------------------


def readme_operator_policy() -> Block:
    return block_after("README.md", "### IAM permissions")


def test_readme_operator_policy(world):
    # README: "The operator's AWS identity needs exactly these five actions" and "iam:ListServiceSpecificCredentials
    # on user/* is what lets drift checks list every user of a service at once (AllUsers=true)"; AWS [stackd-recorded,
    # iam-api.md §14]: "AllUsers=true needs iam:ListServiceSpecificCredentials on arn:…:user/* or *"
    doc = readme_operator_policy().policy()
    a = world.actor(statements=statements(doc))
    _table(world, a.iam, {"create": True, "list": True, "reset": True, "update": True, "delete": True,
                          "create br30": True, "list @managed-app": True, "create @other-app": True})
    assert _all_users_list(a.iam)
    # and nothing else: it grants no other IAM action
    expect_access_denied(lambda: a.iam.list_users())
    expect_access_denied(lambda: a.iam.create_user(UserName="nope"))


def test_readme_policy_naming_users_one_by_one_cannot_list_all_users(world):
    # README: "Where the policy names users one by one, IAM denies that [AllUsers=true]; the operator ... lists each
    # user instead"
    doc = readme_operator_policy().policy()
    for st in statements(doc):
        st["Resource"] = [f"arn:aws:iam::{ACCOUNT}:user/tgt", f"arn:aws:iam::{ACCOUNT}:user/ssc-managed/managed-app"]
    a = world.actor(statements=statements(doc))
    assert not _all_users_list(a.iam)
    _table(world, a.iam, {"list @tgt": True, "list @managed-app": True, "create @managed-app": True,
                          "list @other-app": False})


# -- README: "Scoping what the operator may mint" --------------------------------------------------------------


def readme_scoped_policy() -> Block:
    return block_after("README.md", "Scoping what the operator may mint")


def test_readme_scoped_policy(world):
    # README: "This policy allows CodeCommit passwords, and Bedrock keys of at most 90 days" and "A resource asking
    # for anything else (another service, credentialAgeDays: 365, no credentialAgeDays on Bedrock) reports
    # AccessDenied"; ManageWhatExists: List, Reset, Update, Delete. AWS: "If the key that you specify in a policy
    # condition is not present in the request context, the values do not match and the condition is false."
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)
    doc = readme_scoped_policy().policy()
    assert {st.get("Sid") for st in statements(doc)} >= {"Passwords", "ApiKeysOfAtMost90Days", "ManageWhatExists"}
    a = world.actor(statements=statements(doc))
    _table(world, a.iam, {
        "create cc": True,
        "create br90": True, "create br1": True,
        "create br91": False, "create br365": False, "create br": False,
        "create logs": False, "create logs30": False, "create ks": False,
        "list": True, "reset": True, "update": True, "delete": True,
        "reset br30": True, "delete br30": True,
    })
    assert _all_users_list(a.iam)
    expect_access_denied(
        lambda: a.iam.create_service_specific_credential(UserName="tgt", ServiceName=BR, CredentialAgeDays=91),
        who=a.arn, action="iam:CreateServiceSpecificCredential", resource="user tgt", reason="identity")


def test_readme_warning_single_statement_with_both_keys(world):
    # README: "Only Create carries those keys, and password services never carry the age, so a single statement that
    # puts both conditions on all five actions would deny List, Reset, Update, Delete and every password."
    # Built from the README's own policies: the five actions of "IAM permissions" with the conditions of
    # "ApiKeysOfAtMost90Days".
    five = statements(readme_operator_policy().policy())[0]["Action"]
    api = next(st for st in statements(readme_scoped_policy().policy()) if st.get("Sid") == "ApiKeysOfAtMost90Days")
    single = {"Effect": "Allow", "Action": five, "Resource": api["Resource"], "Condition": copy.deepcopy(api["Condition"])}
    a = world.actor(statements=[single])
    _table(world, a.iam, {"list": False, "reset": False, "update": False, "delete": False,
                          "create cc": False, "create ks": False, "create br30": True})


# -- docs/install.md: least privilege and path narrowing -------------------------------------------------------


def install_policy() -> Block:
    return block_after("docs/install.md", "### Least-privilege policy")


def narrowed_install_policy() -> dict:
    """install.md's policy with the Resource line its "Narrowing it." block shows."""
    fragment = block_after("docs/install.md", "**Narrowing it.**", statement=False)
    resource = json.loads("{" + fragment.text.strip().rstrip(",") + "}")["Resource"]
    doc = install_policy().policy()
    for st in statements(doc):
        st["Resource"] = resource
    return doc


def test_install_least_privilege_policy(world):
    # install.md: "The operator calls exactly five IAM actions, all on IAM users"
    a = world.actor(statements=statements(install_policy().policy()))
    _table(world, a.iam, {"create": True, "list": True, "reset": True, "update": True, "delete": True,
                          "list @other-app": True})
    expect_access_denied(lambda: a.iam.get_user(UserName="tgt"))  # "no iam:Get*"


def test_install_path_narrowing(world):
    # install.md: "IAM user ARNs contain the user's path (arn:aws:iam::123456789012:user/division/alice), so if the
    # users ... live under a path, grant only that path" and "Users outside the path then get AccessDenied from IAM"
    doc = narrowed_install_policy()
    assert statements(doc)[0]["Resource"] == f"arn:aws:iam::{ACCOUNT}:user/ssc-managed/*"
    a = world.actor(statements=statements(doc))
    _table(world, a.iam, {
        "create @managed-app": True, "list @managed-app": True, "reset @managed-app": True,
        "update @managed-app": True, "delete @managed-app": True, "list @deep-app": True,
        "create @tgt": False, "list @tgt": False, "reset @tgt": False, "update @tgt": False, "delete @tgt": False,
        "list @other-app": False,
    })
    expect_access_denied(lambda: a.iam.list_service_specific_credentials(UserName="other-app"),
                         who=a.arn, action="iam:ListServiceSpecificCredentials", resource="user other-app",
                         reason="identity")


def test_install_narrowed_list_all_users_needs_the_separate_statement(world):
    # install.md: "keep iam:ListServiceSpecificCredentials on arn:aws:iam::ACCOUNT:user/* in a separate statement
    # if a path-narrowed List is denied"
    doc = narrowed_install_policy()
    a = world.actor(statements=statements(doc))
    assert not _all_users_list(a.iam)
    extra = {"Effect": "Allow", "Action": "iam:ListServiceSpecificCredentials",
             "Resource": f"arn:aws:iam::{ACCOUNT}:user/*"}
    b = world.actor(statements=[*statements(doc), extra])
    assert _all_users_list(b.iam)


def test_install_trust_policies_are_trust_policies(world):
    # install.md's Pod Identity and IRSA trust policies name a service / federated principal; as identity policies
    # IAM refuses them ("Policy document should not specify a principal.", iam-api.md §16.3)
    trusts = [b for b in policy_blocks() if b.file == "docs/install.md" and is_trust(b.policy())]
    assert len(trusts) >= 2, [b.id for b in trusts]
    for b in trusts:
        expect_error(world.root, lambda: world.root.put_user_policy(UserName="tgt", PolicyName="t",
                                                                    PolicyDocument=b.text),
                     code="MalformedPolicyDocument", status=400, exc="MalformedPolicyDocumentException")


# -- README's guardrail (SCP) ------------------------------------------------------------------------------------


def test_guardrail_fixture_is_what_readme_describes():
    # README: "an SCP or permissions boundary with two Deny statements on Create, one with NumericGreaterThan on the
    # age, and one for keys that never expire that joins "Null": {"iam:ServiceSpecificCredentialAgeDays": "true"}
    # with StringEquals on the API-key services" (+ the Allow an SCP needs: emulator --guardrail, like FullAWSAccess)
    readme = (REPO / "README.md").read_text()
    assert "two Deny statements on Create" in readme and "NumericGreaterThan" in readme
    doc = json.loads(GUARDRAIL_FILE.read_text())
    denies = [st for st in statements(doc) if st["Effect"] == "Deny"]
    assert len(denies) == 2
    assert all(st["Action"] == "iam:CreateServiceSpecificCredential" for st in denies)
    assert "NumericGreaterThan" in denies[0]["Condition"]
    assert denies[1]["Condition"]["Null"] == {"iam:ServiceSpecificCredentialAgeDays": "true"}
    assert BR in denies[1]["Condition"]["StringEquals"]["iam:ServiceSpecificCredentialServiceName"]


GUARDRAIL_TABLE = {
    "create br90": True, "create br1": True, "create cc": True, "create ks": True,
    "create br91": False, "create br": False, "create logs": False, "create logs30": True,
    "create cc365": False,
    "list": True, "reset": True, "update": True, "delete": True,
}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    e = start_enforcing(tmp_path_factory.mktemp("docs-guard"), guardrails=(GUARDRAIL_FILE,), name="docs-guard")
    w = World(e)
    w.root.create_user(UserName="tgt")
    yield w
    e.stop()


def test_guardrail_on_root(guarded):
    # SCPs "affect all users and roles in attached accounts, including the root user"
    # (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html [recalled]); the
    # age key is present whenever CredentialAgeDays is sent, for CodeCommit too (iam-api.md §14), so
    # NumericGreaterThan refuses a 365-day CodeCommit password as well
    _table(guarded, guarded.root, GUARDRAIL_TABLE)
    expect_access_denied(
        lambda: guarded.root.create_service_specific_credential(UserName="tgt", ServiceName=BR),
        who=f"arn:aws:iam::{ACCOUNT}:root", action="iam:CreateServiceSpecificCredential", resource="user tgt",
        reason="explicit-scp")


def test_guardrail_over_the_readme_scoped_policy(guarded):
    # the guardrail sits "above the operator": with README's scoped policy the result is the intersection
    a = guarded.actor(statements=statements(readme_scoped_policy().policy()))
    _table(guarded, a.iam, {"create cc": True, "create br90": True, "create br91": False, "create br": False,
                            "create ks": False, "list": True, "delete": True})


def test_guardrail_statements_as_a_permissions_boundary(world):
    # README: "an SCP or permissions boundary" — the same document as a boundary gives the same answers
    # ("An entity's permissions boundary allows it to perform only the actions that are allowed by both its
    # identity-based policies and its permissions boundaries.", access_policies_boundaries.html)
    arn = world.root.create_policy(PolicyName="readme-guardrail", PolicyDocument=GUARDRAIL_FILE.read_text())[
        "Policy"]["Arn"]
    a = world.actor(statements=[{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}], boundary=arn)
    _table(world, a.iam, GUARDRAIL_TABLE)


def test_readme_null_test_alone_would_deny_passwords(world):
    # README: "(the Null test alone would also deny every CodeCommit and Keyspaces password, which never carry an age)"
    doc = json.loads(GUARDRAIL_FILE.read_text())
    for st in statements(doc):
        if st["Effect"] == "Deny" and "Null" in st.get("Condition", {}):
            del st["Condition"]["StringEquals"]
    arn = world.root.create_policy(PolicyName="null-alone", PolicyDocument=json.dumps(doc))["Policy"]["Arn"]
    a = world.actor(statements=[{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}], boundary=arn)
    _table(world, a.iam, {"create cc": False, "create ks": False, "create br": False, "create br30": True,
                          "list": True})


# -- bad documents: MalformedPolicyDocument / LimitExceeded, never a 5xx -----------------------------------------


def sized_identity_policy(size: int) -> str:
    """An identity policy whose size as IAM counts it (no whitespace) is exactly `size`."""
    base = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetUser",
                                                    "Resource": f"arn:aws:iam::{ACCOUNT}:user/"}]}
    bare = len(json.dumps(base, separators=(",", ":")))
    assert size > bare
    base["Statement"][0]["Resource"] += "a" * (size - bare)
    text = json.dumps(base, separators=(",", ":"))
    assert len(text) == size
    return text


def sized_trust_policy(size: int) -> str:
    base = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                                    "Action": "sts:AssumeRole",
                                                    "Condition": {"StringEquals": {"sts:RoleSessionName": ""}}}]}
    bare = len(json.dumps(base, separators=(",", ":")))
    base["Statement"][0]["Condition"]["StringEquals"]["sts:RoleSessionName"] = "a" * (size - bare)
    text = json.dumps(base, separators=(",", ":"))
    assert len(text) == size
    return text


@pytest.fixture
def bad_user(world):
    name = world.user_name("bad")
    world.root.create_user(UserName=name)
    return name


def test_malformed_json(world, bad_user):
    # MalformedPolicyDocument 400: "The request was rejected because the policy document was malformed. The error
    # message describes the specific error." (IAM API reference, PutUserPolicy errors)
    expect_error(world.root, lambda: world.root.put_user_policy(UserName=bad_user, PolicyName="p",
                                                                PolicyDocument='{"Version": "2012-10-17", "Statement": ['),
                 code="MalformedPolicyDocument", status=400, exc="MalformedPolicyDocumentException")


def test_unknown_condition_operator(world, bad_user):
    doc = policy_doc({"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*",
                      "Condition": {"StringEqualz": {"aws:username": "x"}}})
    expect_error(world.root, lambda: world.root.put_user_policy(UserName=bad_user, PolicyName="p", PolicyDocument=doc),
                 code="MalformedPolicyDocument", status=400, exc="MalformedPolicyDocumentException")


def test_identity_policy_with_principal(world, bad_user):
    # "Policy document should not specify a principal." (iam-api.md §16.3, terraform-provider-aws#10419)
    doc = policy_doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "iam:GetUser", "Resource": "*"})
    expect_error(world.root, lambda: world.root.put_user_policy(UserName=bad_user, PolicyName="p", PolicyDocument=doc),
                 code="MalformedPolicyDocument", status=400, exc="MalformedPolicyDocumentException",
                 message="Policy document should not specify a principal.")


def test_statement_without_resource(world, bad_user):
    # "Policy statement must contain resources." (iam-api.md §16.3, aws-samples/aws-health-aware#1)
    doc = policy_doc({"Effect": "Allow", "Action": "iam:GetUser"})
    expect_error(world.root, lambda: world.root.put_user_policy(UserName=bad_user, PolicyName="p", PolicyDocument=doc),
                 code="MalformedPolicyDocument", status=400, exc="MalformedPolicyDocumentException",
                 message="Policy statement must contain resources.")


def test_trust_policy_with_resource(world):
    # "Has prohibited field Resource" (iam-api.md §16.3, devopsacademyau/academy#1368)
    doc = policy_doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                      "Action": "sts:AssumeRole", "Resource": "*"})
    expect_error(world.root, lambda: world.root.create_role(RoleName=world.user_name("r"), AssumeRolePolicyDocument=doc),
                 code="MalformedPolicyDocument", status=400, exc="MalformedPolicyDocumentException",
                 message="Has prohibited field Resource")


@pytest.mark.parametrize("kind", ["user", "role"])
def test_trust_policy_naming_a_missing_principal(world, kind):
    # IAM resolves the ARNs a trust policy names: `Invalid principal in policy: "AWS":"arn:aws:iam::<acct>:role/<x>"`
    # (MalformedPolicyDocument 400; iam-api.md §16.3, opstrace/opstrace#88)
    arn = f"arn:aws:iam::{ACCOUNT}:{kind}/nobody-{world.user_name('x')}"
    doc = policy_doc({"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"})
    expect_error(world.root, lambda: world.root.create_role(RoleName=world.user_name("r"), AssumeRolePolicyDocument=doc),
                 code="MalformedPolicyDocument", status=400, exc="MalformedPolicyDocumentException",
                 message=f'Invalid principal in policy: "AWS":"{arn}"')


def test_user_inline_policies_aggregate_2048(world, bad_user):
    # "User policy size cannot exceed 2,048 characters" for "the total aggregate policy size (the sum size of all
    # inline policies)"; "IAM does not count white space" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html);
    # message "Maximum policy size of 2048 bytes exceeded for user <name>" (danvk/mapsnap#483)
    put = lambda name, doc: world.root.put_user_policy(UserName=bad_user, PolicyName=name, PolicyDocument=doc)  # noqa: E731
    put("exactly", sized_identity_policy(2048))
    world.root.delete_user_policy(UserName=bad_user, PolicyName="exactly")
    expect_error(world.root, lambda: put("big", sized_identity_policy(2049)), code="LimitExceeded", status=409,
                 exc="LimitExceededException", message=f"Maximum policy size of 2048 bytes exceeded for user {bad_user}")
    put("one", sized_identity_policy(1100))
    expect_error(world.root, lambda: put("two", sized_identity_policy(1000)), code="LimitExceeded", status=409,
                 exc="LimitExceededException", message=f"Maximum policy size of 2048 bytes exceeded for user {bad_user}")
    put("one", sized_identity_policy(1500))  # replacing a policy counts it once
    # whitespace is not counted
    spaced = json.dumps(json.loads(sized_identity_policy(500)), indent=80)
    assert len(spaced) > 2048 - 1500
    put("spaced", spaced)


def test_managed_policy_6144(world):
    # "The size of each managed policy cannot exceed 6,144 characters." (quotas page); "Cannot exceed quota for
    # PolicySize: 6144" (iam-api.md §16.3)
    world.root.create_policy(PolicyName=world.user_name("ok"), PolicyDocument=sized_identity_policy(6144))
    expect_error(world.root, lambda: world.root.create_policy(PolicyName=world.user_name("big"),
                                                              PolicyDocument=sized_identity_policy(6145)),
                 code="LimitExceeded", status=409, exc="LimitExceededException",
                 message="Cannot exceed quota for PolicySize: 6144")


def test_trust_policy_2048(world):
    # role trust policy: 2,048 characters (quotas page); "Cannot exceed quota for ACLSizePerRole: 2048"
    # (kubeflow/kubeflow#6687 "status code: 409")
    world.root.create_role(RoleName=world.user_name("r"), AssumeRolePolicyDocument=sized_trust_policy(2048))
    expect_error(world.root, lambda: world.root.create_role(RoleName=world.user_name("r"),
                                                            AssumeRolePolicyDocument=sized_trust_policy(2049)),
                 code="LimitExceeded", status=409, exc="LimitExceededException",
                 message="Cannot exceed quota for ACLSizePerRole: 2048")


def test_role_inline_policies_10240(world):
    # "Role policy size cannot exceed 10,240 characters." (quotas page); "Maximum policy size of 10240 bytes
    # exceeded for role <name>" (aws-amplify/amplify-backend#2615)
    role = world.user_name("r")
    world.root.create_role(RoleName=role, AssumeRolePolicyDocument=sized_trust_policy(300))
    world.root.put_role_policy(RoleName=role, PolicyName="a", PolicyDocument=sized_identity_policy(6000))
    expect_error(world.root, lambda: world.root.put_role_policy(RoleName=role, PolicyName="b",
                                                                PolicyDocument=sized_identity_policy(4241)),
                 code="LimitExceeded", status=409, exc="LimitExceededException",
                 message=f"Maximum policy size of 10240 bytes exceeded for role {role}")
    world.root.put_role_policy(RoleName=role, PolicyName="b", PolicyDocument=sized_identity_policy(4240))


STMT = '{"Version": "2012-10-17", "Statement": [%s]}'
# not policies at all, or statements IAM's grammar refuses: a 4xx, never a success
BAD_DOCUMENTS = [
    "", " ", "null", "[]", "{}", "42", '"text"', "{", '{"Statement": "x"}', '{"Version": "2012-10-17"}',
    "[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000,
    STMT % '{"Effect": "Allow", "Action": "*", "Resource": "*"', STMT % '"x"',
    '{"Version": "1999-01-01", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}',
    STMT % '{"Effect": "Maybe", "Action": "*", "Resource": "*"}',
    STMT % '{"Effect": "Allow", "Resource": "*"}',
    STMT % '{"Effect": "Allow", "Action": 7, "Resource": "*"}',
    STMT % '{"Effect": "Allow", "Action": "*", "NotAction": "*", "Resource": "*"}',
    STMT % '{"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "*"}',
    STMT % '{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": "x"}',
    STMT % '{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": "x"}}',
    STMT % '{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"ForSomeValues:StringEquals": {"k": "v"}}}',
    STMT % '{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericLessThan": {"k": {"nested": 1}}}}',
    STMT % '{"Effect": "Allow", "Action": "iam", "Resource": "*"}',
]
# edge cases AWS's answer to is not recorded here: any answer but a 5xx
ODD_DOCUMENTS = [
    '{"Statement": []}',
    STMT % '{"Effect": "Allow", "Action": [], "Resource": "*"}',
    STMT % '{"Effect": "Allow", "Action": "*", "Resource": "*", "Bogus": 1}',
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}], "Bogus": 1}',
    STMT % '{"Effect": "Allow", "Action": "\u00e9:*", "Resource": "*"}',
    STMT % '{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"k": []}}}',
    STMT % '{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericLessThan": {"k": "abc"}}}',
    STMT % '{"Sid": "has space", "Effect": "Allow", "Action": "*", "Resource": "*"}',
    STMT % '{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Allow", "Action": "*", "Resource": "*"}',
]


def _calls(world, raw, doc):
    role = world.user_name("badrole")
    user = world.user_name("baduser")
    world.root.create_user(UserName=user)
    return {
        "PutUserPolicy": lambda: raw.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=doc),
        "CreatePolicy": lambda: raw.create_policy(PolicyName=world.user_name("bp"), PolicyDocument=doc),
        "CreateRole": lambda: raw.create_role(RoleName=role, AssumeRolePolicyDocument=doc),
    }


@pytest.mark.parametrize("doc", ODD_DOCUMENTS, ids=range(len(ODD_DOCUMENTS)))
def test_odd_documents_never_a_server_error(world, doc):
    raw = aws_client(world.e, "iam", key=ROOT_KEY, secret=ROOT_SECRET, validate=False)
    for op, fn in _calls(world, raw, doc).items():
        try:
            fn()
        except ClientError as ex:
            status = ex.response["ResponseMetadata"]["HTTPStatusCode"]
            assert 400 <= status < 500, f"{op}: {status} {ex.response['Error']}"


@pytest.mark.parametrize("doc", BAD_DOCUMENTS, ids=range(len(BAD_DOCUMENTS)))
def test_bad_documents_are_client_errors(world, doc):
    # a client error with IAM's codes, never a server error (MalformedPolicyDocument "The request was rejected
    # because the policy document was malformed.", ValidationError for model constraints, LimitExceeded for size)
    raw = aws_client(world.e, "iam", key=ROOT_KEY, secret=ROOT_SECRET, validate=False)
    calls = _calls(world, raw, doc)
    for op, fn in calls.items():
        with pytest.raises(ClientError) as ei:
            fn()
        resp = ei.value.response
        status = resp["ResponseMetadata"]["HTTPStatusCode"]
        assert 400 <= status < 500, f"{op}: {status} {resp['Error']}"
        assert resp["Error"]["Code"] in ("MalformedPolicyDocument", "ValidationError", "LimitExceeded"), \
            f"{op}: {resp['Error']}"
