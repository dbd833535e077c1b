"""STS on the emulator's endpoint (`AssumeRole`, `GetCallerIdentity`) under `--enforce`, with two accounts.

One emulator for the module: account A (123456789012, the primary) and B (210987654321, `--account`), a root key
for each. Roles, trust policies, users and keys are made with boto3; sessions are used with boto3, boto3's own
AssumeRole credential provider and the AWS CLI. Expectations cite the AWS documentation (iam-api.md §15, §17, §19).
"""

from __future__ import annotations

import configparser
import datetime as dt

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError

from conftest import (statement, ACCOUNT, ACCOUNT_B, REGION, ROOT_ACCESS_KEY, ROOT_B_ACCESS_KEY, ROOT_B_KEY, ROOT_B_SECRET,
                      ROOT_KEY, ROOT_SECRET, aws_cli, aws_client, expect_access_denied, expect_error, make_actor,
                      policy_doc, session_client, start_enforcing)

CC = "codecommit.amazonaws.com"
SSC_ACTIONS = ["iam:CreateServiceSpecificCredential", "iam:ListServiceSpecificCredentials",
               "iam:ResetServiceSpecificCredential", "iam:UpdateServiceSpecificCredential",
               "iam:DeleteServiceSpecificCredential"]
LIST = "iam:ListServiceSpecificCredentials"

# AssumeRole API reference (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html), quoted in
# iam-api.md §15.2/§17.2:
DOC_SAME_ACCOUNT = ("To allow a user to assume a role in the same account, you can do either of the following: "
                    "Attach a policy to the user that allows the user to call AssumeRole (as long as the role's trust "
                    "policy trusts the account). Add the user as a principal directly in the role's trust policy.")


class World:
    def __init__(self, e):
        self.e = e
        self.root = aws_client(e, "iam", key=ROOT_KEY, secret=ROOT_SECRET)
        self.root_sts = aws_client(e, "sts", key=ROOT_KEY, secret=ROOT_SECRET)
        self.root_b = aws_client(e, "iam", key=ROOT_B_KEY, secret=ROOT_B_SECRET)
        self.root_b_sts = aws_client(e, "sts", key=ROOT_B_KEY, secret=ROOT_B_SECRET)
        self.seq = 0

    def name(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{self.seq}"

    def actor(self, statements=None, account_root=None, **kw):
        policies = {"p": policy_doc(*statements)} if statements else None
        return make_actor(self.e, account_root or self.root, self.name("user"), policies=policies, **kw)

    def role(self, trust_statements, *, root=None, policies=None, name=None, **kw) -> dict:
        root = root or self.root
        name = name or self.name("role")
        role = root.create_role(RoleName=name, AssumeRolePolicyDocument=policy_doc(*trust_statements), **kw)["Role"]
        for pname, statements in (policies or {}).items():
            root.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=policy_doc(*statements))
        return role

    def now(self) -> dt.datetime:
        now = self.e.admin("GET", "/_emulator/clock")["now"]
        return dt.datetime.fromisoformat(now.replace("Z", "+00:00"))


def trust(principal, actions="sts:AssumeRole", condition=None) -> dict:
    if isinstance(principal, str) and principal.startswith("arn:") or isinstance(principal, list):
        principal = {"AWS": principal}
    st = {"Effect": "Allow", "Principal": principal, "Action": actions}
    if condition:
        st["Condition"] = condition
    return st


def allow(actions, resource="*", condition=None) -> dict:
    return statement("Allow", actions, resource, condition)


def account_root(account=ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:root"


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    e = start_enforcing(tmp_path_factory.mktemp("sts"), access_keys=(ROOT_ACCESS_KEY, ROOT_B_ACCESS_KEY),
                        accounts=(ACCOUNT_B,), name="sts")
    world = World(e)
    world.root.create_user(UserName="sts-tgt")
    yield world
    e.stop()


def assume(client, role_arn, session="s1", **kw) -> dict:
    return client.assume_role(RoleArn=role_arn, RoleSessionName=session, **kw)


def denied_assume(w, actor_arn, fn, role_arn, action="sts:AssumeRole") -> str:
    # "User: <caller ARN> is not authorized to perform: sts:AssumeRole on resource: <RoleArn>" (iam-api.md §15.6,
    # amzn/selling-partner-api-models#891); STS always names the role ARN (§18)
    return expect_access_denied(fn, who=actor_arn, action=action, resource=role_arn)


# -- same account: who must allow ------------------------------------------------------------------------------


def test_trust_naming_the_user_needs_no_identity_policy(w):
    # DOC_SAME_ACCOUNT, and: "When a resource-based policy grants access to a principal in the same account, no
    # additional identity-based policy is required." (API_AssumeRole.html)
    a = w.actor()
    role = w.role([trust(a.arn)])
    before = w.now()
    out = assume(a.sts, role["Arn"], "my-session")
    creds, user = out["Credentials"], out["AssumedRoleUser"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20, creds["AccessKeyId"]
    assert creds["SecretAccessKey"] and creds["SessionToken"]
    # "By default, the value is set to 3600 seconds." (API_AssumeRole.html)
    assert abs((creds["Expiration"] - before).total_seconds() - 3600) < 60, (creds["Expiration"], before)
    assert user["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/my-session"
    assert user["AssumedRoleId"] == f"{role['RoleId']}:my-session"
    assert role["RoleId"].startswith("AROA")


def test_trust_naming_a_user_with_a_path(w):
    # a user's ARN contains its path ("arn:aws:iam::123456789012:user/division/alice", docs/install.md; IAM
    # identifiers page); the trust policy names the user by that ARN (DOC_SAME_ACCOUNT: "Add the user as a
    # principal directly in the role's trust policy")
    a = w.actor(path="/division/")
    assert a.arn == f"arn:aws:iam::{ACCOUNT}:user/division/{a.name}"
    role = w.role([trust(a.arn)])
    assert assume(a.sts, role["Arn"])["AssumedRoleUser"]["Arn"].endswith(f"/{role['RoleName']}/s1")


def test_access_denied_names_a_path_users_full_arn(w):
    # "User: <caller-arn> is not authorized ..." — the caller's ARN includes its path (iam-api.md §18)
    a = w.actor(path="/division/")
    role = w.role([trust(account_root())])  # refused by a missing identity policy
    denied_assume(w, a.arn, lambda: assume(a.sts, role["Arn"]), role["Arn"])
    other = w.actor()
    role2 = w.role([trust(other.arn)])  # refused by the trust policy
    denied_assume(w, a.arn, lambda: assume(a.sts, role2["Arn"]), role2["Arn"])


@pytest.mark.parametrize("principal", [account_root(), ACCOUNT])
def test_trust_naming_the_account_needs_an_identity_policy(w, principal):
    # DOC_SAME_ACCOUNT: "Attach a policy to the user that allows the user to call AssumeRole (as long as the role's
    # trust policy trusts the account)." — the account may be written as its root ARN or its 12-digit id
    role = w.role([trust({"AWS": principal})])
    bare = w.actor()
    denied_assume(w, bare.arn, lambda: assume(bare.sts, role["Arn"]), role["Arn"])
    allowed = w.actor(statements=[allow("sts:AssumeRole", role["Arn"])])
    assert assume(allowed.sts, role["Arn"])["AssumedRoleUser"]["Arn"].endswith(f"/{role['RoleName']}/s1")
    other = w.actor(statements=[allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/some-other-role")])
    denied_assume(w, other.arn, lambda: assume(other.sts, role["Arn"]), role["Arn"])


def test_trust_not_naming_the_caller_refuses_even_with_an_identity_policy(w):
    # the role's trust policy is a resource-based policy that must allow (iam-api.md §17.2: "The trust policy must
    # always have a matching Allow for sts:AssumeRole")
    named = w.actor()
    role = w.role([trust(named.arn)])
    other = w.actor(statements=[allow("sts:AssumeRole")])
    denied_assume(w, other.arn, lambda: assume(other.sts, role["Arn"]), role["Arn"])


def test_missing_role_is_access_denied(w):
    # "AWS returns AccessDenied for sts:AssumeRole on a role it cannot resolve" (iam-api.md §15.3, fakecloud PR #1579)
    a = w.actor(statements=[allow("sts:AssumeRole")])
    arn = f"arn:aws:iam::{ACCOUNT}:role/does-not-exist"
    denied_assume(w, a.arn, lambda: assume(a.sts, arn), arn)


def test_explicit_deny_in_identity_policy_beats_the_trust_policy(w):
    # "An explicit deny overrides an explicit allow." (evaluation-logic page; iam-api.md §17.2: "An explicit Deny
    # anywhere still wins.")
    a = w.actor(statements=[{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}])
    role = w.role([trust(a.arn)])
    denied_assume(w, a.arn, lambda: assume(a.sts, role["Arn"]), role["Arn"])


def test_deny_in_trust_policy(w):
    # an explicit Deny in the resource-based (trust) policy wins over its Allow
    a = w.actor()
    role = w.role([trust(a.arn), {"Effect": "Deny", "Principal": {"AWS": a.arn}, "Action": "sts:AssumeRole",
                                  "Condition": {"StringLike": {"sts:RoleSessionName": "blocked-*"}}}])
    assert assume(a.sts, role["Arn"], "fine")
    denied_assume(w, a.arn, lambda: assume(a.sts, role["Arn"], "blocked-1"), role["Arn"])


def test_root_user_cannot_assume_roles(w):
    # AWS refuses AssumeRole with root credentials, trust or not, same account or not: 403 AccessDenied "Roles may not
    # be assumed by root accounts." (seen from real STS in many public reports, e.g. `aws sts assume-role` output
    # "An error occurred (AccessDenied) when calling the AssumeRole operation: Roles may not be assumed by root
    # accounts." and the Java SDK's "Roles may not be assumed by root accounts (Service: Sts, Status Code: 403)")
    role = w.role([trust(account_root())])
    expect_error(w.root_sts, lambda: assume(w.root_sts, role["Arn"], "as-root"), code="AccessDenied", status=403,
                 message="Roles may not be assumed by root accounts.")
    role_b = w.role([trust(account_root(ACCOUNT))], root=w.root_b)
    expect_error(w.root_sts, lambda: assume(w.root_sts, role_b["Arn"], "as-root"), code="AccessDenied", status=403,
                 message="Roles may not be assumed by root accounts.")


# -- conditions in trust policies ------------------------------------------------------------------------------


def test_external_id(w):
    # the trust policy checks it with "Condition": {"StringEquals": {"sts:ExternalId": "…"}}; if the parameter is
    # absent, the key is missing and StringEquals is false (iam-api.md §17.2; condition_operators page: "If the key
    # that you specify in a policy condition is not present in the request context, the values do not match")
    a = w.actor()
    role = w.role([trust(a.arn, condition={"StringEquals": {"sts:ExternalId": "ext-4711"}})])
    denied_assume(w, a.arn, lambda: assume(a.sts, role["Arn"]), role["Arn"])
    denied_assume(w, a.arn, lambda: assume(a.sts, role["Arn"], ExternalId="ext-0000"), role["Arn"])
    assert assume(a.sts, role["Arn"], ExternalId="ext-4711")["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_trust_conditions_on_the_callers_tags_and_principal_lists(w):
    # the trust policy sees the caller's global keys: aws:PrincipalTag/* are the user's tags (iam-api.md §19.2:
    # "Plus the global keys of the caller"); a Principal may list several ARNs (policy grammar)
    ops = w.actor(tags={"team": "ops"})
    dev = w.actor(tags={"team": "dev"})
    other = w.actor()
    role = w.role([trust([other.arn, ops.arn, dev.arn],
                         condition={"StringEquals": {"aws:PrincipalTag/team": "ops"}})])
    assert assume(ops.sts, role["Arn"])
    denied_assume(w, dev.arn, lambda: assume(dev.sts, role["Arn"]), role["Arn"])


def test_role_session_name_condition(w):
    # sts:RoleSessionName "Filters access by the role session name required when you assume a role" (SAR for STS)
    a = w.actor()
    role = w.role([trust(a.arn, condition={"StringLike": {"sts:RoleSessionName": "ci-*"}})])
    assert assume(a.sts, role["Arn"], "ci-42")
    denied_assume(w, a.arn, lambda: assume(a.sts, role["Arn"], "laptop"), role["Arn"])


def test_session_tags_need_sts_tag_session(w):
    # "In addition to the action that matches the API operation, you must have the following permissions-only
    # action in your policy: sts:TagSession" ... "This action must be allowed before the user can pass session
    # tags." (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_permissions-required)
    a = w.actor()
    tags = [{"Key": "team", "Value": "blue"}]
    without = w.role([trust(a.arn)])
    denied_assume(w, a.arn, lambda: assume(a.sts, without["Arn"], Tags=tags), without["Arn"], action="sts:TagSession")
    assert assume(a.sts, without["Arn"])  # the same call without tags is fine
    with_tag = w.role([trust(a.arn, ["sts:AssumeRole", "sts:TagSession"])])
    out = assume(a.sts, with_tag["Arn"], Tags=tags)
    # PackedPolicySize is returned when tags were passed (API_AssumeRole.html, iam-api.md §15.4)
    assert 0 < out["PackedPolicySize"] <= 100, out


def test_session_tags_become_principal_tags(w):
    # "When you use the session credentials to make a subsequent request, the request context includes the
    # aws:PrincipalTag context key." and "New session tags override existing assumed role or federated user tags
    # with the same tag key, regardless of case." (id_session-tags.html)
    a = w.actor()
    policy = [allow(LIST, condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}})]
    role = w.role([trust(a.arn, ["sts:AssumeRole", "sts:TagSession"])], policies={"p": policy},
                  Tags=[{"Key": "team", "Value": "red"}])
    blue = session_client(w.e, "iam", assume(a.sts, role["Arn"], Tags=[{"Key": "team", "Value": "blue"}])[
        "Credentials"])
    assert blue.list_service_specific_credentials(UserName="sts-tgt")["ServiceSpecificCredentials"] == []
    red = session_client(w.e, "iam", assume(a.sts, role["Arn"])["Credentials"])  # the role's own tag: red
    expect_access_denied(lambda: red.list_service_specific_credentials(UserName="sts-tgt"))
    upper = session_client(w.e, "iam", assume(a.sts, role["Arn"], Tags=[{"Key": "Team", "Value": "blue"}])[
        "Credentials"])
    assert upper.list_service_specific_credentials(UserName="sts-tgt")["ServiceSpecificCredentials"] == []


def test_session_tag_conditions_in_trust(w):
    # aws:RequestTag/* and aws:TagKeys are in the context of sts:TagSession (iam-api.md §15.3 step 4)
    a = w.actor()
    role = w.role([trust(a.arn), trust(a.arn, "sts:TagSession", condition={
        "StringEquals": {"aws:RequestTag/team": ["blue", "green"]},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}})])
    assert assume(a.sts, role["Arn"], Tags=[{"Key": "team", "Value": "green"}])
    denied_assume(w, a.arn, lambda: assume(a.sts, role["Arn"], Tags=[{"Key": "team", "Value": "red"}]),
                  role["Arn"], action="sts:TagSession")
    denied_assume(w, a.arn, lambda: assume(a.sts, role["Arn"], Tags=[{"Key": "team", "Value": "blue"},
                                                                      {"Key": "cost", "Value": "1"}]),
                  role["Arn"], action="sts:TagSession")


def test_source_identity_needs_sts_set_source_identity(w):
    # "To set a source identity, principals must have permissions for the sts:SetSourceIdentity action"
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html [recalled]);
    # "You can use the aws:SourceIdentity condition key to further control access to Amazon Web Services resources
    # based on the value of source identity." (API_AssumeRole.html)
    a = w.actor()
    without = w.role([trust(a.arn)])
    denied_assume(w, a.arn, lambda: assume(a.sts, without["Arn"], SourceIdentity="alice"), without["Arn"],
                  action="sts:SetSourceIdentity")
    role = w.role([trust(a.arn, ["sts:AssumeRole", "sts:SetSourceIdentity"],
                         condition={"StringEqualsIfExists": {"sts:SourceIdentity": ["alice", "bob"]}})],
                  policies={"p": [allow(LIST, condition={"StringEquals": {"aws:SourceIdentity": "alice"}})]})
    out = assume(a.sts, role["Arn"], SourceIdentity="alice")
    assert out["SourceIdentity"] == "alice"  # echoed (API_AssumeRole.html)
    alice = session_client(w.e, "iam", out["Credentials"])
    assert alice.list_service_specific_credentials(UserName="sts-tgt")["ServiceSpecificCredentials"] == []
    bob = session_client(w.e, "iam", assume(a.sts, role["Arn"], SourceIdentity="bob")["Credentials"])
    expect_access_denied(lambda: bob.list_service_specific_credentials(UserName="sts-tgt"))
    # the trust statement's condition on sts:SourceIdentity holds for both actions it lists, so "carol" is refused
    denied_assume(w, a.arn, lambda: assume(a.sts, role["Arn"], SourceIdentity="carol"), role["Arn"])
    assert "SourceIdentity" not in assume(a.sts, role["Arn"])


# -- duration ------------------------------------------------------------------------------------------------------


def test_duration_bounds(w):
    # "The value specified can range from 900 seconds (15 minutes) up to the maximum session duration set for the
    # role. ... If you specify a value higher than this setting or the administrator setting (whichever is lower),
    # the operation fails." (API_AssumeRole.html); AWS's message (iam-api.md §15.6, kreuzwerker/awsu#27):
    # "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    a = w.actor()
    role = w.role([trust(a.arn)])  # MaxSessionDuration defaults to 3600
    raw = aws_client(w.e, "sts", key=a.key, secret=a.secret, validate=False)
    expect_error(raw, lambda: assume(raw, role["Arn"], DurationSeconds=899), code="ValidationError", status=400)
    expect_error(raw, lambda: assume(raw, role["Arn"], DurationSeconds=3601), code="ValidationError", status=400,
                 message="The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    before = w.now()
    out = assume(a.sts, role["Arn"], DurationSeconds=900)
    assert abs((out["Credentials"]["Expiration"] - before).total_seconds() - 900) < 60
    long = w.role([trust(a.arn)], MaxSessionDuration=7200)
    assert assume(a.sts, long["Arn"], DurationSeconds=7200)
    expect_error(raw, lambda: assume(raw, long["Arn"], DurationSeconds=7201), code="ValidationError", status=400,
                 message="The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    expect_error(raw, lambda: assume(raw, long["Arn"], DurationSeconds=43201), code="ValidationError", status=400)


@pytest.mark.parametrize("value,constraint", [
    (899, "Member must have value greater than or equal to 900"),
    (43201, "Member must have value less than or equal to 43200"),
])
def test_duration_out_of_model_range_message(w, value, constraint):
    # STS's model-constraint message names the value, as seen from real AWS and parsed by client code:
    # "1 validation error detected: Value '86400' at 'durationSeconds' failed to satisfy constraint: Member must have
    # value less than or equal to 43200" (a Go client's parser: "unfortunately the error message includes the
    # count"; aws-azure-login's test fixture "Value '43201' at 'durationSeconds' ..."); iam-api.md §15.6:
    # "1 validation error detected: Value '<v>' at '<lowerCamel>' failed to satisfy constraint: …"
    a = w.actor()
    role = w.role([trust(a.arn)], MaxSessionDuration=43200)
    raw = aws_client(w.e, "sts", key=a.key, secret=a.secret, validate=False)
    expect_error(raw, lambda: assume(raw, role["Arn"], DurationSeconds=value), code="ValidationError", status=400,
                 message=f"1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy "
                         f"constraint: {constraint}")


def test_role_chaining_is_capped_at_one_hour(w):
    # "However, if you assume a role using role chaining and provide a DurationSeconds parameter value greater than
    # one hour, the operation fails." (API_AssumeRole.html); message from
    # https://repost.aws/knowledge-center/iam-role-chaining-limit: "The requested DurationSeconds exceeds the 1 hour
    # session limit for roles assumed by role chaining."
    a = w.actor()
    first = w.role([trust(a.arn)], MaxSessionDuration=43200)
    second = w.role([trust(first["Arn"])], MaxSessionDuration=43200)
    out = assume(a.sts, first["Arn"], DurationSeconds=7200)  # not chained: up to the role's maximum
    s1 = session_client(w.e, "sts", out["Credentials"])
    raw = session_client(w.e, "sts", out["Credentials"], validate=False)
    expect_error(raw, lambda: assume(raw, second["Arn"], DurationSeconds=3601), code="ValidationError", status=400,
                 message="The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role "
                         "chaining.")
    before = w.now()
    chained = assume(s1, second["Arn"], "hop2")
    # "A chained session with no DurationSeconds gets 1 h" (iam-api.md §15.3 step 6)
    assert abs((chained["Credentials"]["Expiration"] - before).total_seconds() - 3600) < 60
    assert chained["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{second['RoleName']}/hop2"
    assert assume(s1, second["Arn"], "hop2b", DurationSeconds=3600)


def test_chaining_from_a_role_with_a_path(w):
    # a role's ARN contains its path ("arn:aws:iam::123456789012:role/stackdprobe/stackdprobe" for path
    # /stackdprobe/, iam-api.md §16.2); a trust policy naming it admits that role's sessions (iam-api.md §17.2: "the
    # role ARN for a session of that role")
    a = w.actor()
    first = w.role([trust(a.arn)], Path="/svc/")
    second = w.role([trust(first["Arn"])])
    s1 = session_client(w.e, "sts", assume(a.sts, first["Arn"])["Credentials"])
    assert assume(s1, second["Arn"], "hop")["AssumedRoleUser"]["Arn"].endswith(f"/{second['RoleName']}/hop")


# -- GetCallerIdentity -----------------------------------------------------------------------------------------------


def test_get_caller_identity_root_user_and_role(w):
    # Arn/UserId per caller: root "arn:aws:iam::<acct>:root" / the account id; user its ARN / AIDA…; assumed role
    # "arn:aws:sts::<acct>:assumed-role/<role>/<session>" / "AROA…:<session>" ("values returned are those listed in
    # the aws:userid column in the Principal table", GetCallerIdentity API reference; iam-api.md §15.5). "The role
    # path is not included." (§15.4)
    r = w.root_sts.get_caller_identity()
    assert (r["Arn"], r["UserId"], r["Account"]) == (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, ACCOUNT)
    rb = w.root_b_sts.get_caller_identity()
    assert (rb["Arn"], rb["UserId"], rb["Account"]) == (f"arn:aws:iam::{ACCOUNT_B}:root", ACCOUNT_B, ACCOUNT_B)
    a = w.actor(path="/team/")
    u = a.sts.get_caller_identity()
    user = w.root.get_user(UserName=a.name)["User"]
    assert (u["Arn"], u["UserId"], u["Account"]) == (user["Arn"], user["UserId"], ACCOUNT)
    assert u["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/{a.name}" and u["UserId"].startswith("AIDA")
    b = w.actor()
    role = w.role([trust(b.arn)], Path="/svc/")
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/svc/{role['RoleName']}"
    s = session_client(w.e, "sts", assume(b.sts, role["Arn"], "sess-1")["Credentials"]).get_caller_identity()
    assert s["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/sess-1"
    assert s["UserId"] == f"{role['RoleId']}:sess-1" and s["UserId"].startswith("AROA")
    assert s["Account"] == ACCOUNT


def test_get_caller_identity_needs_no_permission(w):
    # "No permissions are required to perform this operation. If an administrator attaches a policy to your identity
    # that explicitly denies access to the sts:GetCallerIdentity action, you can still perform this operation."
    # (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html)
    a = w.actor(statements=[{"Effect": "Deny", "Action": "*", "Resource": "*"}])
    assert a.sts.get_caller_identity()["Arn"] == a.arn


# -- session credentials: expiry and tampering ----------------------------------------------------------------


def test_session_can_call_iam_with_the_roles_permissions(w):
    # "The resulting session's permissions are" the role's identity-based policies (API_AssumeRole.html)
    a = w.actor()
    role = w.role([trust(a.arn)], policies={"p": [allow(SSC_ACTIONS, f"arn:aws:iam::{ACCOUNT}:user/*")]})
    iam = session_client(w.e, "iam", assume(a.sts, role["Arn"])["Credentials"])
    c = iam.create_service_specific_credential(UserName="sts-tgt", ServiceName=CC)["ServiceSpecificCredential"]
    assert c["ServiceUserName"] == f"sts-tgt-at-{ACCOUNT}"
    iam.delete_service_specific_credential(UserName="sts-tgt",
                                           ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/s1"
    # the caller of a role session is its assumed-role ARN, still introduced with "User:" (iam-api.md §18)
    expect_access_denied(lambda: iam.list_users(), who=session_arn, action="iam:ListUsers",
                         resource=f"arn:aws:iam::{ACCOUNT}:user/")


def test_expired_session_credentials(w):
    # ExpiredToken, HTTP 403, "The security token included in the request is expired" (iam-api.md §15.6,
    # aws-sdk-java-v2#1649); "The same ExpiredToken/InvalidClientTokenId behaviour applies to IAM requests signed
    # with session credentials"
    a = w.actor()
    role = w.role([trust(a.arn)], policies={"p": [allow(LIST)]})
    creds = assume(a.sts, role["Arn"], DurationSeconds=900)["Credentials"]
    iam = session_client(w.e, "iam", creds)
    sts = session_client(w.e, "sts", creds)
    assert iam.list_service_specific_credentials(UserName="sts-tgt")["ServiceSpecificCredentials"] == []
    w.e.advance_clock(901)
    for client, fn in ((iam, lambda: iam.list_service_specific_credentials(UserName="sts-tgt")),
                       (sts, lambda: sts.get_caller_identity())):
        expect_error(client, fn, code="ExpiredToken", status=403,
                     message="The security token included in the request is expired")
    # the user's long-term key is unaffected
    assert a.sts.get_caller_identity()["Arn"] == a.arn


def test_tampered_or_missing_session_token(w):
    # InvalidClientTokenId 403 "The security token included in the request is invalid." (iam-api.md §15.6, common
    # errors: "The X.509 certificate or AWS access key ID provided does not exist in our records." is the other
    # wording [recalled]; the emulator uses the STS/IAM one)
    a = w.actor()
    role = w.role([trust(a.arn)], policies={"p": [allow(LIST)]})
    creds = assume(a.sts, role["Arn"])["Credentials"]
    token = creds["SessionToken"]
    tampered = dict(creds, SessionToken=token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    msg = "The security token included in the request is invalid."
    for service in ("iam", "sts"):
        c = session_client(w.e, service, tampered)
        fn = (lambda: c.list_service_specific_credentials(UserName="sts-tgt")) if service == "iam" \
            else (lambda: c.get_caller_identity())
        expect_error(c, fn, code="InvalidClientTokenId", status=403, message=msg)
    missing = aws_client(w.e, "iam", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"])
    expect_error(missing, lambda: missing.list_service_specific_credentials(UserName="sts-tgt"),
                 code="InvalidClientTokenId", status=403, message=msg)
    wrong_secret = dict(creds, SecretAccessKey="x" * 40)
    c = session_client(w.e, "iam", wrong_secret)
    expect_error(c, lambda: c.list_service_specific_credentials(UserName="sts-tgt"),
                 code="SignatureDoesNotMatch", status=403)
    # the genuine credentials still work
    ok = session_client(w.e, "iam", creds)
    assert ok.list_service_specific_credentials(UserName="sts-tgt")["ServiceSpecificCredentials"] == []


# -- real client tooling: boto3's AssumeRole provider and the CLI -------------------------------------------


def test_boto3_assume_role_provider_from_a_profile(w, tmp_path):
    # boto3's shared-config role provider: a profile with role_arn and source_profile ("the AWS CLI/SDK will call
    # sts:AssumeRole with the source profile's credentials", https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-role.html
    # [recalled]); endpoint_url in the profile sends STS and IAM to the emulator
    a = w.actor()
    role = w.role([trust(a.arn)], policies={"p": [allow(LIST)]})
    cfg = configparser.ConfigParser()
    cfg["profile src"] = {"aws_access_key_id": a.key, "aws_secret_access_key": a.secret, "region": REGION,
                          "endpoint_url": w.e.url}
    cfg["profile ops"] = {"role_arn": role["Arn"], "source_profile": "src", "role_session_name": "from-profile",
                          "region": REGION, "endpoint_url": w.e.url}
    path = tmp_path / "config"
    with open(path, "w") as f:
        cfg.write(f)
    core = botocore.session.Session()
    core.set_config_variable("config_file", str(path))
    core.set_config_variable("credentials_file", "/dev/null")
    session = boto3.session.Session(botocore_session=core, profile_name="ops")
    ident = session.client("sts").get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/from-profile"
    iam = session.client("iam")
    assert iam.list_service_specific_credentials(UserName="sts-tgt")["ServiceSpecificCredentials"] == []
    frozen = session.get_credentials().get_frozen_credentials()
    assert frozen.access_key.startswith("ASIA") and frozen.token


def test_cli_assume_role_and_get_caller_identity(w):
    # `aws sts assume-role` / `aws sts get-caller-identity` (AWS CLI reference), the CLI signing for service sts
    a = w.actor()
    role = w.role([trust(a.arn)], policies={"p": [allow(LIST)]})
    out = aws_cli(w.e, "sts", "assume-role", "--role-arn", role["Arn"], "--role-session-name", "cli-session",
                  "--duration-seconds", "900", key=a.key, secret=a.secret).json
    creds = out["Credentials"]
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/cli-session"
    me = aws_cli(w.e, "sts", "get-caller-identity", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"],
                 token=creds["SessionToken"]).json
    assert me["Arn"] == out["AssumedRoleUser"]["Arn"] and me["UserId"] == out["AssumedRoleUser"]["AssumedRoleId"]
    assert me["Account"] == ACCOUNT
    listed = aws_cli(w.e, "iam", "list-service-specific-credentials", "--user-name", "sts-tgt",
                     key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"]).json
    assert listed["ServiceSpecificCredentials"] == []
    user = aws_cli(w.e, "sts", "get-caller-identity", key=a.key, secret=a.secret).json
    assert user["Arn"] == a.arn
    bare = w.actor()
    r = aws_cli(w.e, "sts", "assume-role", "--role-arn", role["Arn"], "--role-session-name", "nope",
                key=bare.key, secret=bare.secret)
    assert r.rc in (254, 255), r
    assert ("An error occurred (AccessDenied) when calling the AssumeRole operation: "
            f"User: {bare.arn} is not authorized to perform: sts:AssumeRole on resource: {role['Arn']}") in r.stderr


# -- cross-account ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xacct(w):
    """Account B: user bob, role `minter` trusting A's user `xa-user`, allowed the five actions on B's users."""
    w.root_b.create_user(UserName="bob")
    w.root.create_user(UserName="xa-user")  # also exists in A, to show the session does not reach A
    a = make_actor(w.e, w.root, "xa-caller")
    role = w.role([trust(a.arn)], root=w.root_b, name="minter",
                  policies={"p": [allow(SSC_ACTIONS, f"arn:aws:iam::{ACCOUNT_B}:user/*")]})
    return a, role


def test_cross_account_needs_the_callers_identity_policy(w, xacct):
    # "To allow cross-account access, you attach a resource-based policy to the resource that you want to share.
    # You must also attach an identity-based policy to the identity that acts as the principal in the request."
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html);
    # "A user who wants to access a role in a different account must also have permissions that are delegated from
    # the account administrator." (API_AssumeRole.html)
    a, role = xacct
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT_B}:role/minter"
    denied_assume(w, a.arn, lambda: assume(a.sts, role["Arn"]), role["Arn"])
    w.root.put_user_policy(UserName=a.name, PolicyName="assume-minter",
                           PolicyDocument=policy_doc(allow("sts:AssumeRole", role["Arn"])))
    try:
        out = assume(a.sts, role["Arn"], "xs")
        assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_B}:assumed-role/minter/xs"
    finally:
        w.root.delete_user_policy(UserName=a.name, PolicyName="assume-minter")


def test_cross_account_trust_must_name_the_caller(w, xacct):
    # the role's account decides through the trust policy: a caller it does not name is refused even with an
    # identity policy allowing sts:AssumeRole on * (cross-account page: both sides must allow)
    other = w.actor(statements=[allow("sts:AssumeRole")])
    _a, role = xacct
    denied_assume(w, other.arn, lambda: assume(other.sts, role["Arn"]), role["Arn"])


def test_cross_account_session_acts_in_the_roles_account(w, xacct):
    # the session is a principal of the role's account ("arn:aws:sts::<role-account>:assumed-role/...", iam-api.md
    # §15.4); service user names carry the account: "<user>-at-<account>" (iam-api.md §3/§8)
    a, role = xacct
    w.root.put_user_policy(UserName=a.name, PolicyName="assume-minter",
                           PolicyDocument=policy_doc(allow("sts:AssumeRole", role["Arn"])))
    try:
        creds = assume(a.sts, role["Arn"], "mint")["Credentials"]
    finally:
        w.root.delete_user_policy(UserName=a.name, PolicyName="assume-minter")
    ident = session_client(w.e, "sts", creds).get_caller_identity()
    assert (ident["Account"], ident["Arn"]) == (ACCOUNT_B, f"arn:aws:sts::{ACCOUNT_B}:assumed-role/minter/mint")
    iam = session_client(w.e, "iam", creds)
    c = iam.create_service_specific_credential(UserName="bob", ServiceName=CC)["ServiceSpecificCredential"]
    assert c["ServiceUserName"] == f"bob-at-{ACCOUNT_B}"
    listed = iam.list_service_specific_credentials(UserName="bob")["ServiceSpecificCredentials"]
    assert [x["ServiceSpecificCredentialId"] for x in listed] == [c["ServiceSpecificCredentialId"]]
    # B's root sees it; A knows nothing of bob
    assert w.root_b.list_service_specific_credentials(UserName="bob")["ServiceSpecificCredentials"]
    expect_error(w.root, lambda: w.root.list_service_specific_credentials(UserName="bob"), code="NoSuchEntity",
                 status=404, exc="NoSuchEntityException")
    # A's users do not exist in B
    for name in ("xa-user", a.name):
        expect_error(iam, lambda: iam.list_service_specific_credentials(UserName=name), code="NoSuchEntity",
                     status=404, message=f"The user with name {name} cannot be found.", exc="NoSuchEntityException")
    iam.delete_service_specific_credential(UserName="bob", ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])


def test_cross_account_trust_naming_the_account(w):
    # trust names account A (its root ARN): A's administrator delegates with an identity policy (cross-account page)
    role = w.role([trust(account_root(ACCOUNT))], root=w.root_b)
    bare = w.actor()
    denied_assume(w, bare.arn, lambda: assume(bare.sts, role["Arn"]), role["Arn"])
    ok = w.actor(statements=[allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT_B}:role/*")])
    assert assume(ok.sts, role["Arn"])["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{ACCOUNT_B}:")


def test_accounts_are_separate(w):
    # each account has its own users: a name in B is free in A (emulator --account: "its own users, roles, policies
    # and credentials")
    w.root_b.create_user(UserName="only-in-b")
    expect_error(w.root, lambda: w.root.get_user(UserName="only-in-b"), code="NoSuchEntity", status=404,
                 exc="NoSuchEntityException")
    assert w.root_b.get_user(UserName="only-in-b")["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT_B}:user/only-in-b"


# -- what a role session is, to the policies --------------------------------------------------------------------


def test_role_session_context_keys(w):
    # for a role session: aws:PrincipalArn is "the ARN of the role" (not the assumed-role ARN), aws:PrincipalType
    # AssumedRole, aws:userid "AROA…:<session>", aws:username absent ("This key is always included in the request
    # context for IAM users." — only users), aws:PrincipalAccount the role's account
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html, iam-api.md §19.1)
    a = w.actor()
    name = w.name("ctx")
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/ctx/{name}"
    checks = {
        "arn": {"ArnEquals": {"aws:PrincipalArn": role_arn}},
        "type": {"StringEquals": {"aws:PrincipalType": "AssumedRole"}},
        "userid": {"StringLike": {"aws:userid": "AROA*:ctx-session"}},
        "nousername": {"Null": {"aws:username": "true"}},
        "account": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
    }
    role = w.role([trust(a.arn)], name=name, Path="/ctx/",
                  policies={k: [allow(LIST, f"arn:aws:iam::{ACCOUNT}:user/{k}*", condition=c)]
                            for k, c in checks.items()})
    assert role["Arn"] == role_arn
    iam = session_client(w.e, "iam", assume(a.sts, role["Arn"], "ctx-session")["Credentials"])
    for k in checks:
        w.root.create_user(UserName=f"{k}-{name}")
    got = {}
    for k in checks:
        try:
            iam.list_service_specific_credentials(UserName=f"{k}-{name}")
            got[k] = True
        except ClientError as ex:
            assert ex.response["Error"]["Code"] == "AccessDenied", ex.response
            got[k] = False
    assert got == {k: True for k in checks}


def test_role_permissions_boundary_and_attached_policy(w):
    # a role's boundary limits its sessions ("An entity's permissions boundary allows it to perform only the actions
    # that are allowed by both its identity-based policies and its permissions boundaries.",
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html); CreateRole PermissionsBoundary,
    # AttachRolePolicy, PutRolePermissionsBoundary
    a = w.actor()
    managed = w.root.create_policy(PolicyName=w.name("five"), PolicyDocument=policy_doc(
        allow(SSC_ACTIONS, f"arn:aws:iam::{ACCOUNT}:user/*")))["Policy"]["Arn"]
    role = w.role([trust(a.arn)], PermissionsBoundary="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    w.root.attach_role_policy(RoleName=role["RoleName"], PolicyArn=managed)
    iam = session_client(w.e, "iam", assume(a.sts, role["Arn"], "b1")["Credentials"])
    assert iam.list_service_specific_credentials(UserName="sts-tgt")["ServiceSpecificCredentials"] == []
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/b1"
    expect_access_denied(lambda: iam.create_service_specific_credential(UserName="sts-tgt", ServiceName=CC),
                         who=session_arn, action="iam:CreateServiceSpecificCredential", resource="user sts-tgt",
                         reason="boundary")
    w.root.put_role_permissions_boundary(RoleName=role["RoleName"],
                                         PermissionsBoundary="arn:aws:iam::aws:policy/AdministratorAccess")
    c = iam.create_service_specific_credential(UserName="sts-tgt", ServiceName=CC)["ServiceSpecificCredential"]
    iam.delete_service_specific_credential(UserName="sts-tgt", ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])
    w.root.detach_role_policy(RoleName=role["RoleName"], PolicyArn=managed)
    expect_access_denied(lambda: iam.list_service_specific_credentials(UserName="sts-tgt"),
                         who=session_arn, action=LIST, resource="user sts-tgt", reason="identity")


def test_enforce_account_limits_enforcement_to_that_account(tmp_path):
    # --enforce-account B: requests in B are authorized by policy, requests in A are not (emulator flag contract)
    e = start_enforcing(tmp_path, access_keys=(ROOT_ACCESS_KEY, ROOT_B_ACCESS_KEY), accounts=(ACCOUNT_B,),
                        extra=("--enforce-account", ACCOUNT_B), name="enforce-b")
    try:
        w = World(e)
        in_a = make_actor(e, w.root, "plain-a")
        in_b = make_actor(e, w.root_b, "plain-b")
        assert in_a.iam.list_users()["Users"]
        expect_access_denied(lambda: in_b.iam.list_users(), who=f"arn:aws:iam::{ACCOUNT_B}:user/plain-b",
                             action="iam:ListUsers", resource=f"arn:aws:iam::{ACCOUNT_B}:user/")
    finally:
        e.stop()
