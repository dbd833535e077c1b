"""`--enforce`: every signed request is authorized by IAM policy evaluation (iam-api.md §17-§19).

One enforcing emulator per module, bootstrapped with a root key; users, keys, inline and managed policies and
permissions boundaries are made with boto3 as a platform team would. Each case gives a fresh user one set of
policies and checks an allow/deny table over the five service-specific-credential actions (and TagUser for the
multivalued `aws:TagKeys`). A second emulator carries a guardrail (an SCP-like policy, `--guardrail`).

Every expectation cites the AWS documentation it rests on ([recalled] = wording not re-read, per iam-api.md).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import (statement, ACCOUNT, ROOT_KEY, ROOT_SECRET, access_denied_message, aws_cli,
                      aws_client, expect_access_denied, make_actor, policy_doc, start_enforcing)

CC = "codecommit.amazonaws.com"
KS = "cassandra.amazonaws.com"
BR = "bedrock.amazonaws.com"
LOGS = "logs.amazonaws.com"
SERVICES = {"cc": CC, "ks": KS, "br": BR, "logs": LOGS}

ACTIONS = {
    "create": "iam:CreateServiceSpecificCredential",
    "list": "iam:ListServiceSpecificCredentials",
    "reset": "iam:ResetServiceSpecificCredential",
    "update": "iam:UpdateServiceSpecificCredential",
    "delete": "iam:DeleteServiceSpecificCredential",
}
FIVE = list(ACTIONS.values())
USERS_ARN = f"arn:aws:iam::{ACCOUNT}:user/*"

# the users the actors act on (made by root at module start)
TARGETS = {
    "tgt": dict(path="/"),
    "k8s-app": dict(path="/k8s/"),
    "other-app": dict(path="/other/"),
    "prot-app": dict(path="/protected/"),
    "team-a-tgt": dict(path="/", tags={"team": "a"}),
    "team-b-tgt": dict(path="/", tags={"team": "b"}),
    "tag-tgt": dict(path="/"),
}


def allow(actions, resource=USERS_ARN, condition=None, **extra) -> dict:
    return statement("Allow", actions, resource, condition, **extra)


def deny(actions, resource="*", condition=None) -> dict:
    return statement("Deny", actions, resource, condition)


class World:
    def __init__(self, e):
        self.e = e
        self.root = aws_client(e, "iam", key=ROOT_KEY, secret=ROOT_SECRET)
        self.seq = 0

    def user_name(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{self.seq}"

    def actor(self, prefix="actor", statements=None, **kw):
        policies = {"p": policy_doc(*statements)} if statements else None
        return make_actor(self.e, self.root, self.user_name(prefix), policies=policies, **kw)

    def managed(self, *statements, name=None) -> str:
        return self.root.create_policy(PolicyName=name or self.user_name("pol"),
                                       PolicyDocument=policy_doc(*statements))["Policy"]["Arn"]

    def new_credential(self, user: str, service: str = CC, age: int | None = None) -> str:
        kw = {"UserName": user, "ServiceName": service}
        if age is not None:
            kw["CredentialAgeDays"] = age
        return self.root.create_service_specific_credential(**kw)["ServiceSpecificCredential"][
            "ServiceSpecificCredentialId"]

    def clear(self, user: str) -> None:
        for c in self.root.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]:
            self.root.delete_service_specific_credential(UserName=user,
                                                         ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])


def _service_spec(spec: str) -> tuple[str, int | None]:
    """"cc" -> (CC, None); "br91" -> (BR, 91)."""
    head = spec.rstrip("0123456789")
    digits = spec[len(head):]
    return SERVICES[head], (int(digits) if digits else None)


def attempt(w: World, client, label: str, self_name: str | None = None) -> bool:
    """Runs one request named by `label` as `client`: "<op> [service[days]] [@target]", e.g. "create br91",
    "list @k8s-app", "reset ks @self". True if allowed, False on 403 AccessDenied (anything else raises).
    The credential a Reset/Update/Delete acts on is made by root first; what the request made is removed after."""
    parts = label.split()
    op = parts[0]
    target = "tgt"
    service, age = CC, None
    for p in parts[1:]:
        if p.startswith("@"):
            target = self_name if p == "@self" else p[1:]
        else:
            service, age = _service_spec(p)
    cred = None
    if op in ("reset", "update", "delete"):
        cred = w.new_credential(target, service, age)
    try:
        if op == "create":
            kw = {"UserName": target, "ServiceName": service}
            if age is not None:
                kw["CredentialAgeDays"] = age
            client.create_service_specific_credential(**kw)
        elif op == "list":
            client.list_service_specific_credentials(UserName=target)
        elif op == "reset":
            client.reset_service_specific_credential(UserName=target, ServiceSpecificCredentialId=cred)
        elif op == "update":
            client.update_service_specific_credential(UserName=target, ServiceSpecificCredentialId=cred,
                                                      Status="Inactive")
        elif op == "delete":
            client.delete_service_specific_credential(UserName=target, ServiceSpecificCredentialId=cred)
        else:
            raise AssertionError(f"unknown op in {label!r}")
        return True
    except ClientError as ex:
        err = ex.response["Error"]
        if err.get("Code") == "AccessDenied" and ex.response["ResponseMetadata"]["HTTPStatusCode"] == 403:
            return False
        raise
    finally:
        if op in ("create", "reset", "update", "delete"):
            w.clear(target)


def table(w: World, client, expected: dict[str, bool], self_name: str | None = None) -> None:
    """All rows at once, so a failure shows every mismatch."""
    got = {label: attempt(w, client, label, self_name) for label in expected}
    assert got == expected


ALL_FIVE = ("create", "list", "reset", "update", "delete")


def everything(value: bool) -> dict[str, bool]:
    return {op: value for op in ALL_FIVE}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    e = start_enforcing(tmp_path_factory.mktemp("enforce"))
    w = World(e)
    for name, spec in TARGETS.items():
        kw = {"UserName": name, "Path": spec["path"]}
        if spec.get("tags"):
            kw["Tags"] = [{"Key": k, "Value": v} for k, v in spec["tags"].items()]
        w.root.create_user(**kw)
    yield w
    e.stop()


# -- root, no policy, identity policies ----------------------------------------------------------------------


def test_root_is_allowed_everything(world):
    # "By default, all requests are implicitly denied with the exception of the AWS account root user, which has
    # full access." (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html)
    table(world, world.root, {**everything(True), "create br": True, "create br36600": True, "create logs": True,
                              "list @k8s-app": True, "reset @prot-app": True})


def test_user_without_policy_is_denied_everything(world):
    # same page: "By default, all requests are implicitly denied" and "Requests must be explicitly allowed by a
    # policy or set of policies"
    a = world.actor()
    table(world, a.iam, everything(False))


def test_access_denied_message_no_identity_policy(world):
    # "When the policy implicitly denies access, then AWS includes the phrase because no type policy allows the
    # action action in the access denied error message." and the format "User user is not authorized to perform
    # action on resource because context." (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html);
    # a single IAM user is named "user NAME" (real IAM: "on resource: user dev_user1", iam-api.md §18)
    a = world.actor()
    for op, fn in [
        ("list", lambda: a.iam.list_service_specific_credentials(UserName="tgt")),
        ("create", lambda: a.iam.create_service_specific_credential(UserName="tgt", ServiceName=CC)),
    ]:
        expect_access_denied(fn, who=a.arn, action=ACTIONS[op], resource="user tgt", reason="identity")


def test_access_denied_message_names_the_callers_path(world):
    # the ARN of a user "arn:aws:iam::123456789012:user/division/alice" contains the path (install.md); the message
    # starts with the caller's ARN ("User: <caller-arn>", iam-api.md §18)
    a = world.actor(path="/ops/team/")
    assert a.arn == f"arn:aws:iam::{ACCOUNT}:user/ops/team/{a.name}"
    expect_access_denied(lambda: a.iam.list_service_specific_credentials(UserName="k8s-app"),
                         who=a.arn, action=ACTIONS["list"], resource="user k8s-app", reason="identity")


def test_access_denied_through_the_cli(world):
    # the CLI prints the service's error as "An error occurred (AccessDenied) when calling the ... operation: ..."
    a = world.actor()
    r = aws_cli(world.e, "iam", "list-service-specific-credentials", "--user-name", "tgt", key=a.key, secret=a.secret)
    assert r.rc in (254, 255), r
    msg = access_denied_message(a.arn, ACTIONS["list"], "user tgt", "identity")
    assert f"An error occurred (AccessDenied) when calling the ListServiceSpecificCredentials operation: {msg}" \
        in r.stderr, r.stderr


def test_inline_user_policy_allows_the_five_actions(world):
    # "Requests must be explicitly allowed by a policy" (evaluation-logic page, above); the five actions act on
    # resource type user* (SAR for IAM, https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html)
    a = world.actor(statements=[allow(FIVE)])
    table(world, a.iam, {**everything(True), "create br30": True, "list @k8s-app": True})


def test_attached_managed_policy_allows_and_detach_removes(world):
    # identity-based policies include managed policies attached to the user (iam-api.md §17.1 step 6:
    # "user inline plus attached")
    arn = world.managed(allow(FIVE))
    a = world.actor(managed=[arn])
    table(world, a.iam, everything(True))
    world.root.detach_user_policy(UserName=a.name, PolicyArn=arn)
    table(world, a.iam, everything(False))


def test_aws_managed_policy_attached(world):
    # AWS managed IAMReadOnlyAccess allows iam:Get*/iam:List* only
    a = world.actor(managed=["arn:aws:iam::aws:policy/IAMReadOnlyAccess"])
    table(world, a.iam, {"list": True, "create": False, "reset": False, "update": False, "delete": False})


def test_deleting_the_inline_policy_removes_the_permission(world):
    a = world.actor(statements=[allow(FIVE)])
    assert attempt(world, a.iam, "list")
    world.root.delete_user_policy(UserName=a.name, PolicyName="p")
    assert not attempt(world, a.iam, "list")


def test_action_wildcards_and_case_insensitive_action_names(world):
    # "The prefix and the action name are case insensitive. For example, iam:ListAccessKeys is the same as
    # IAM:listaccesskeys." (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html);
    # wildcards * are allowed in actions (same page)
    a = world.actor(statements=[allow("iam:*ServiceSpecificCredential*")])
    table(world, a.iam, everything(True))
    b = world.actor(statements=[allow("IAM:listservicespecificcredentials")])
    table(world, b.iam, {"list": True, "create": False, "reset": False, "update": False, "delete": False})


def test_explicit_deny_beats_allow(world):
    # "An explicit deny overrides an explicit allow." (evaluation-logic page); the message: "When a policy
    # explicitly denies access because the policy contains a Deny statement, then AWS includes the phrase with an
    # explicit deny in a type policy in the access denied error message." (troubleshoot_access-denied.html)
    a = world.actor(statements=[allow("iam:*", "*"), deny(ACTIONS["delete"])])
    table(world, a.iam, {"create": True, "list": True, "reset": True, "update": True, "delete": False})
    cred = world.new_credential("tgt")
    try:
        expect_access_denied(
            lambda: a.iam.delete_service_specific_credential(UserName="tgt", ServiceSpecificCredentialId=cred),
            who=a.arn, action=ACTIONS["delete"], resource="user tgt", reason="explicit-identity")
    finally:
        world.clear("tgt")


def test_deny_in_one_policy_beats_allow_in_another(world):
    # "An explicit deny overrides an explicit allow." — across policies too: an attached managed Deny vs inline Allow
    arn = world.managed(deny(ACTIONS["create"]))
    a = world.actor(statements=[allow(FIVE)], managed=[arn])
    table(world, a.iam, {"create": False, "list": True, "reset": True, "update": True, "delete": True})


# -- resources -------------------------------------------------------------------------------------------------


def test_resource_path_wildcard(world):
    # IAM user ARNs contain the path ("arn:aws:iam::123456789012:user/division/alice", docs/install.md); Resource
    # matching is ARN matching with * wildcards (iam-api.md §17.3)
    a = world.actor(statements=[allow(FIVE, f"arn:aws:iam::{ACCOUNT}:user/k8s/*")])
    table(world, a.iam, {
        "list @k8s-app": True, "create @k8s-app": True, "reset @k8s-app": True, "update @k8s-app": True,
        "delete @k8s-app": True,
        "list @other-app": False, "create @other-app": False, "delete @other-app": False,
        "list @tgt": False, "create @tgt": False,
    })
    expect_access_denied(lambda: a.iam.list_service_specific_credentials(UserName="other-app"),
                         who=a.arn, action=ACTIONS["list"], resource="user other-app", reason="identity")


def test_resource_single_user_and_question_mark(world):
    # "?" matches one character in a Resource ARN (iam-api.md §17.3: "`*` and `?` wildcards are allowed")
    a = world.actor(statements=[allow(ACTIONS["list"], [f"arn:aws:iam::{ACCOUNT}:user/tg?",
                                                        f"arn:aws:iam::{ACCOUNT}:user/other/other-app"])])
    table(world, a.iam, {"list @tgt": True, "list @other-app": True, "list @k8s-app": False,
                         "list @team-a-tgt": False})


def test_not_action(world):
    # NotAction "explicitly matches everything except the specified list of actions"
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html [recalled])
    st = {"Effect": "Allow", "NotAction": [ACTIONS["create"], ACTIONS["delete"]], "Resource": "*"}
    a = world.actor(statements=[st])
    table(world, a.iam, {"create": False, "delete": False, "list": True, "reset": True, "update": True})


def test_not_resource(world):
    # NotResource "explicitly matches every resource except those specified"
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html [recalled])
    st = {"Effect": "Allow", "Action": FIVE, "NotResource": f"arn:aws:iam::{ACCOUNT}:user/protected/*"}
    a = world.actor(statements=[st])
    table(world, a.iam, {"list @prot-app": False, "reset @prot-app": False, "create @prot-app": False,
                         "list @tgt": True, "reset @tgt": True, "list @k8s-app": True})


def test_policy_variable_in_resource(world):
    # policy variables as placeholders, e.g. "arn:aws:iam::*:user/${aws:username}"
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html [recalled])
    a = world.actor(statements=[allow(FIVE, f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}")])
    table(world, a.iam, {"list @self": True, "create @self": True, "list @tgt": False, "create @tgt": False},
          self_name=a.name)
    # without UserName the request acts on the caller (iam-api.md §3.2), whose ARN is the resource
    assert a.iam.list_service_specific_credentials()["ServiceSpecificCredentials"] == []


@pytest.mark.parametrize("version", ["2008-10-17", None])
def test_policy_variables_need_version_2012_10_17(world, version):
    # "Because policy variables ... you must specify the Version element and set it to 2012-10-17. Earlier versions of
    # the policy language don't support policy variables. If you don't include the Version element and set it to the
    # appropriate version date, variables like ${aws:username} are treated as literal strings in the policy."
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html [recalled])
    doc = {"Statement": [allow(FIVE, f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}")]}
    if version:
        doc["Version"] = version
    name = world.user_name("oldver")
    world.root.create_user(UserName=name)
    world.root.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(doc))
    ak = world.root.create_access_key(UserName=name)["AccessKey"]
    client = aws_client(world.e, "iam", key=ak["AccessKeyId"], secret=ak["SecretAccessKey"])
    table(world, client, {"list @self": False}, self_name=name)


# -- condition operators -------------------------------------------------------------------------------------


def test_string_equals_on_service_name(world):
    # "iam:ServiceSpecificCredentialServiceName" filters Create by the service (SAR for IAM, iam-api.md §19.3)
    a = world.actor(statements=[allow(ACTIONS["create"], condition={
        "StringEquals": {"iam:ServiceSpecificCredentialServiceName": BR}})])
    table(world, a.iam, {"create br30": True, "create br": True, "create cc": False, "create logs30": False,
                         "list": False})


def test_string_equals_several_values_any_matches(world):
    # several values for one key match if any does (iam-api.md §17.3, condition element page [recalled])
    a = world.actor(statements=[allow(ACTIONS["create"], condition={
        "StringEquals": {"iam:ServiceSpecificCredentialServiceName": [CC, KS]}})])
    table(world, a.iam, {"create cc": True, "create ks": True, "create br30": False})


def test_string_not_equals_missing_key_is_true(world):
    # "If the policy condition requires that the key is not matched, such as StringNotLike or ArnNotLike, and the
    # right key is not present, the condition is true."
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)
    a = world.actor(statements=[allow(FIVE, condition={
        "StringNotEquals": {"iam:ServiceSpecificCredentialServiceName": BR}})])
    table(world, a.iam, {"create cc": True, "create br30": False, "list": True, "reset": True, "update": True,
                         "delete": True})
    # a negated operator with several values is true when the request value matches none of them
    # (condition element page: values for one key are ORed, and the negated operator negates that [recalled])
    b = world.actor(statements=[allow(ACTIONS["create"], condition={
        "StringNotEquals": {"iam:ServiceSpecificCredentialServiceName": [BR, LOGS]}})])
    table(world, b.iam, {"create cc": True, "create ks": True, "create br30": False, "create logs30": False})
    # StringNotLike on a missing key: true (the quote above names StringNotLike)
    c = world.actor(statements=[allow(FIVE, condition={
        "StringNotLike": {"iam:ServiceSpecificCredentialServiceName": "bed*"}})])
    table(world, c.iam, {"list": True, "create cc": True, "create br30": False})


def test_string_like(world):
    # StringLike: "Case-sensitive matching. The values can include multi-character match wildcards (*) and
    # single-character match wildcards (?)" (condition_operators page [recalled])
    a = world.actor(statements=[allow(ACTIONS["create"], condition={
        "StringLike": {"iam:ServiceSpecificCredentialServiceName": "code*"}})])
    table(world, a.iam, {"create cc": True, "create ks": False, "create br30": False})
    b = world.actor(statements=[allow(ACTIONS["create"], condition={
        "StringLike": {"iam:ServiceSpecificCredentialServiceName": "CODE*"}})])
    table(world, b.iam, {"create cc": False})


def test_string_equals_ignore_case(world):
    # "Case-sensitivity of condition key values depends on the condition operator that you use."
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html [recalled])
    upper = CC.upper()
    a = world.actor(statements=[allow(ACTIONS["create"], condition={
        "StringEqualsIgnoreCase": {"iam:ServiceSpecificCredentialServiceName": upper}})])
    table(world, a.iam, {"create cc": True, "create ks": False})
    b = world.actor(statements=[allow(ACTIONS["create"], condition={
        "StringEquals": {"iam:ServiceSpecificCredentialServiceName": upper}})])
    table(world, b.iam, {"create cc": False})


def test_condition_key_names_are_case_insensitive(world):
    # "Condition key names are not case-sensitive." (condition element page, iam-api.md §17.3)
    a = world.actor(statements=[allow(ACTIONS["create"], condition={
        "StringEquals": {"IAM:servicespecificcredentialservicename": CC}})])
    table(world, a.iam, {"create cc": True, "create ks": False})


def test_numeric_less_than_equals_on_age(world):
    # Bedrock guide: "you can use this condition key to only allow the creation of API keys that expire within 90
    # days"; a request without CredentialAgeDays has no such key, so the condition is false ("If the key that you
    # specify in a policy condition is not present in the request context, the values do not match and the
    # condition is false." condition_operators page)
    a = world.actor(statements=[allow(ACTIONS["create"], condition={
        "NumericLessThanEquals": {"iam:ServiceSpecificCredentialAgeDays": "90"}})])
    table(world, a.iam, {"create br90": True, "create br1": True, "create br91": False, "create br": False,
                         "create cc": False})


def test_age_key_present_for_codecommit_when_sent(world):
    # iam-api.md §14 [stackd-recorded, live AWS]: "iam:ServiceSpecificCredentialAgeDays is in the request context
    # whenever CredentialAgeDays is sent, for CodeCommit as well"
    a = world.actor(statements=[allow(ACTIONS["create"], condition={
        "StringEquals": {"iam:ServiceSpecificCredentialServiceName": CC},
        "NumericLessThanEquals": {"iam:ServiceSpecificCredentialAgeDays": "2"}})])
    table(world, a.iam, {"create cc1": True, "create cc": False, "create cc3": False})


def test_numeric_greater_than_in_a_deny(world):
    # aws-samples SCP "Deny-Bedrock-api-keys-longer-than-30-days" pattern; a Deny on a missing key does not fire
    # (condition_operators page: missing key -> the condition is false)
    a = world.actor(statements=[allow(FIVE), deny(ACTIONS["create"], condition={
        "NumericGreaterThan": {"iam:ServiceSpecificCredentialAgeDays": "30"}})])
    table(world, a.iam, {"create br30": True, "create br31": False, "create br": True, "create cc": True,
                         "list": True})


def test_numeric_if_exists_lets_passwords_through(world):
    # "...IfExists: If the policy key is present in the context of the request, process the key as specified in
    # the policy. If the key is not present, evaluate the condition element as true." (condition_operators page)
    a = world.actor(statements=[allow(ACTIONS["create"], condition={
        "NumericLessThanEqualsIfExists": {"iam:ServiceSpecificCredentialAgeDays": "90"}})])
    table(world, a.iam, {"create cc": True, "create ks": True, "create br30": True, "create br91": False,
                         "create br": True})


def test_null_operator(world):
    # Null: "true" matches when the key is absent, "false" when present (iam-api.md §17.4; "Use a Null condition
    # operator to check if a condition key is absent at the time of authorization." condition_operators page
    # [recalled])
    absent = world.actor(statements=[allow(ACTIONS["create"], condition={
        "Null": {"iam:ServiceSpecificCredentialAgeDays": "true"}})])
    table(world, absent.iam, {"create cc": True, "create br": True, "create br30": False})
    present = world.actor(statements=[allow(ACTIONS["create"], condition={
        "Null": {"iam:ServiceSpecificCredentialAgeDays": "false"}})])
    table(world, present.iam, {"create cc": False, "create br30": True})


def test_bool_operator(world):
    # aws:MultiFactorAuthPresent is absent for long-term access keys (iam-api.md §19.1); Bool on a missing key is
    # false; BoolIfExists on a missing key is true — AWS's classic "BoolIfExists aws:MultiFactorAuthPresent false"
    # Deny therefore denies long-term keys (condition_operators page, IfExists quote above)
    mfa = world.actor(statements=[allow(FIVE, condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})])
    table(world, mfa.iam, {"list": False, "create": False})
    no_mfa = world.actor(statements=[allow(FIVE), deny("*", condition={
        "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})])
    table(world, no_mfa.iam, {"list": False, "create": False})
    # aws:SecureTransport: AWS's endpoints are HTTPS only, so a policy written for them sees "true" here too
    # (the emulator's plain HTTP is a test convenience): the usual "Deny when aws:SecureTransport is false"
    # statement denies nothing, as on AWS.
    tls = world.actor(statements=[allow(FIVE), deny("*", condition={"Bool": {"aws:SecureTransport": "false"}})])
    table(world, tls.iam, {"list": True, "create": True})


def test_arn_like_on_principal_arn(world):
    # aws:PrincipalArn of a user is "arn:aws:iam::<acct>:user<path><name>" (iam-api.md §19.1); ArnLike matches
    # with wildcards (condition_operators page [recalled])
    st = allow(FIVE, condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:user/ops/*"}})
    ops = world.actor(statements=[st], path="/ops/")
    table(world, ops.iam, {"list": True, "create": True})
    dev = world.actor(statements=[st], path="/dev/")
    table(world, dev.iam, {"list": False, "create": False})
    st2 = allow(FIVE, condition={"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:user/ops/*"}})
    dev2 = world.actor(statements=[st2], path="/dev/")
    table(world, dev2.iam, {"list": True})


def test_principal_account_and_username_keys(world):
    # aws:PrincipalAccount = the caller's account, aws:username = the IAM user's name (iam-api.md §19.1: "This key
    # is always included in the request context for IAM users."), aws:PrincipalType = User
    a = world.actor(statements=[allow(FIVE, condition={
        "StringEquals": {"aws:PrincipalAccount": ACCOUNT, "aws:PrincipalType": "User"},
        "StringLike": {"aws:username": "actor-*"}})])
    table(world, a.iam, {"list": True})
    b = world.actor(statements=[allow(FIVE, condition={"StringEquals": {"aws:PrincipalAccount": "999999999999"}})])
    table(world, b.iam, {"list": False})


def test_principal_tag(world):
    # "aws:PrincipalTag/<k>: user: the user's tags" (iam-api.md §19.1)
    st = allow(FIVE, condition={"StringEquals": {"aws:PrincipalTag/team": "platform"}})
    tagged = world.actor(statements=[st], tags={"team": "platform"})
    table(world, tagged.iam, {"list": True, "create": True})
    untagged = world.actor(statements=[st])
    table(world, untagged.iam, {"list": False})
    other = world.actor(statements=[st], tags={"team": "web"})
    table(world, other.iam, {"list": False})
    # tags are read at each request: TagUser on the caller changes the next decision
    world.root.tag_user(UserName=untagged.name, Tags=[{"Key": "team", "Value": "platform"}])
    table(world, untagged.iam, {"list": True})
    world.root.untag_user(UserName=untagged.name, TagKeys=["team"])
    table(world, untagged.iam, {"list": False})


def test_resource_tag_of_the_target_user(world):
    # aws:ResourceTag/<k> = tags of the target IAM user (SAR: the user resource carries aws:ResourceTag/${TagKey},
    # iam-api.md §19.1)
    a = world.actor(statements=[allow(FIVE, condition={"StringEquals": {"aws:ResourceTag/team": "a"}})])
    table(world, a.iam, {"list @team-a-tgt": True, "create @team-a-tgt": True, "list @team-b-tgt": False,
                         "list @tgt": False})


def test_policy_variable_principal_tag_equals_resource_tag(world):
    # "aws:ResourceTag/team": "${aws:PrincipalTag/team}" — the ABAC pattern
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html and
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/introduction_attribute-based-access-control.html [recalled])
    st = allow(FIVE, condition={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}})
    a = world.actor(statements=[st], tags={"team": "a"})
    table(world, a.iam, {"list @team-a-tgt": True, "create @team-a-tgt": True, "reset @team-a-tgt": True,
                         "list @team-b-tgt": False, "create @team-b-tgt": False, "list @tgt": False})
    b = world.actor(statements=[st], tags={"team": "b"})
    table(world, b.iam, {"list @team-a-tgt": False, "list @team-b-tgt": True})
    # a principal without the tag: the variable has no value, so nothing matches [recalled: "If the key is not
    # present, the policy variable is not substituted and the condition does not match"]
    none = world.actor(statements=[st])
    table(world, none.iam, {"list @team-a-tgt": False, "list @tgt": False})


@pytest.mark.parametrize("region", ["eu-west-1", "us-west-2", "us-east-1"])
def test_requested_region_of_iam_is_us_east_1_whatever_signed(world, region):
    # IAM is a global service: "all requests to these services are made to the us-east-1 Region"
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_deny-requested-region.html),
    # so aws:RequestedRegion is us-east-1 for every IAM call, whatever region the client signed for (iam-api.md
    # §19.1): a policy allowing only eu-west-1 refuses every IAM call, one allowing us-east-1 allows them all.
    only_eu = world.actor(statements=[allow(FIVE, condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})])
    table(world, aws_client(world.e, "iam", key=only_eu.key, secret=only_eu.secret, region=region),
          {"list": False, "create": False})
    only_us = world.actor(statements=[allow(FIVE, condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}})])
    table(world, aws_client(world.e, "iam", key=only_us.key, secret=only_us.secret, region=region),
          {"list": True, "create": True})


def test_requested_region_us_east_1(world):
    # a client signing as AWS's IAM endpoint requires (us-east-1) meets a policy written for AWS's IAM: "Actions in
    # the CloudFront, IAM, Route 53, and Support services should not be denied because these are popular AWS global
    # services with a single endpoint that is physically located in the us-east-1 Region."
    # (reference_policies_examples_aws_deny-requested-region.html)
    a = world.actor(statements=[allow(FIVE), deny("*", condition={
        "StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]}})])
    table(world, aws_client(world.e, "iam", key=a.key, secret=a.secret, region="us-east-1"), {"list": True})


def test_for_any_value_on_tag_keys(world):
    # ForAnyValue: "The condition returns true if any one of the key values in the request matches any one of the
    # condition values in the policy." (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html);
    # TagUser carries aws:TagKeys (SAR)
    a = world.actor(statements=[allow("iam:TagUser", condition={
        "ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "env"]}})])
    assert tag_user(a.iam, {"team": "x"})
    assert tag_user(a.iam, {"owner": "x", "env": "y"})
    assert not tag_user(a.iam, {"owner": "x"})


def test_for_all_values_on_tag_keys(world):
    # ForAllValues: "The condition returns true if every key value in the request matches at least one value in
    # the policy." (multi-value-conditions page)
    a = world.actor(statements=[allow(["iam:TagUser", "iam:UntagUser"], condition={
        "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}})])
    assert tag_user(a.iam, {"team": "x"})
    assert tag_user(a.iam, {"team": "x", "env": "y"})
    assert not tag_user(a.iam, {"team": "x", "owner": "y"})
    assert untag_user(a.iam, ["env"])
    assert not untag_user(a.iam, ["env", "owner"])


def test_request_tag(world):
    # aws:RequestTag/<k> carries the tags in TagUser (SAR lists aws:RequestTag/${TagKey} for TagUser)
    a = world.actor(statements=[allow("iam:TagUser", condition={"StringEquals": {"aws:RequestTag/env": "dev"}})])
    assert tag_user(a.iam, {"env": "dev"})
    assert not tag_user(a.iam, {"env": "prod"})


def tag_user(client, tags: dict) -> bool:
    try:
        client.tag_user(UserName="tag-tgt", Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        return True
    except ClientError as ex:
        if ex.response["Error"]["Code"] == "AccessDenied":
            return False
        raise


def untag_user(client, keys: list) -> bool:
    try:
        client.untag_user(UserName="tag-tgt", TagKeys=keys)
        return True
    except ClientError as ex:
        if ex.response["Error"]["Code"] == "AccessDenied":
            return False
        raise


def test_other_iam_actions_are_enforced_too(world):
    # every request is authorized, not only the five (emulator --enforce); a policy for the five grants no
    # CreateUser, GetUser, PutUserPolicy or CreateAccessKey
    a = world.actor(statements=[allow(FIVE)])
    for fn in (lambda: a.iam.create_user(UserName="should-not-exist"),
               lambda: a.iam.get_user(UserName="tgt"),
               lambda: a.iam.list_users(),
               lambda: a.iam.put_user_policy(UserName=a.name, PolicyName="escalate",
                                             PolicyDocument=policy_doc(allow("*", "*"))),
               lambda: a.iam.create_access_key(UserName="tgt")):
        expect_access_denied(fn)
    b = world.actor(statements=[allow(["iam:GetUser", "iam:ListUsers"], "*")])
    assert b.iam.get_user(UserName="tgt")["User"]["UserName"] == "tgt"
    assert any(u["UserName"] == "tgt" for u in b.iam.list_users()["Users"])


# -- permissions boundaries -----------------------------------------------------------------------------------


def test_boundary_limits_identity_policy(world):
    # "An entity's permissions boundary allows it to perform only the actions that are allowed by both its
    # identity-based policies and its permissions boundaries."
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html); message
    # "because no permissions boundary allows the <action> action" (troubleshoot_access-denied.html, iam-api.md §18)
    b = world.managed(allow([ACTIONS["create"], ACTIONS["list"]], "*"))
    a = world.actor(statements=[allow(FIVE)], boundary=b)
    table(world, a.iam, {"create": True, "list": True, "reset": False, "update": False, "delete": False})
    cred = world.new_credential("tgt")
    try:
        expect_access_denied(
            lambda: a.iam.reset_service_specific_credential(UserName="tgt", ServiceSpecificCredentialId=cred),
            who=a.arn, action=ACTIONS["reset"], resource="user tgt", reason="boundary")
    finally:
        world.clear("tgt")
    # DeleteUserPermissionsBoundary: the identity policy alone decides again
    world.root.delete_user_permissions_boundary(UserName=a.name)
    table(world, a.iam, everything(True))


def test_boundary_alone_grants_nothing(world):
    # same page: a boundary "does not grant permissions on its own" [recalled]; the identity policy must allow
    b = world.managed(allow("*", "*"))
    a = world.actor(boundary=b)
    table(world, a.iam, everything(False))
    expect_access_denied(lambda: a.iam.list_service_specific_credentials(UserName="tgt"),
                         who=a.arn, action=ACTIONS["list"], resource="user tgt", reason="identity")


def test_boundary_explicit_deny(world):
    # "with an explicit deny in a permissions boundary" (iam-api.md §18, seen against AWS from the CLI)
    b = world.managed(allow("*", "*"), deny(ACTIONS["create"]))
    a = world.actor(statements=[allow(FIVE)], boundary=b)
    table(world, a.iam, {"create": False, "list": True, "delete": True})
    expect_access_denied(lambda: a.iam.create_service_specific_credential(UserName="tgt", ServiceName=CC),
                         who=a.arn, action=ACTIONS["create"], resource="user tgt", reason="explicit-boundary")


def test_boundary_with_conditions(world):
    # a boundary is evaluated with the same condition logic (boundaries page); README: "an SCP or permissions
    # boundary with ... NumericGreaterThan on the age"
    b = world.managed(allow(FIVE, "*", condition={"NumericLessThanEqualsIfExists": {
        "iam:ServiceSpecificCredentialAgeDays": "30"}}))
    a = world.actor(statements=[allow(FIVE)], boundary=b)
    table(world, a.iam, {"create br30": True, "create br31": False, "create cc": True, "list": True})


@pytest.mark.parametrize("arn,expected", [
    ("arn:aws:iam::aws:policy/AdministratorAccess", everything(True)),
    ("arn:aws:iam::aws:policy/IAMFullAccess", everything(True)),
    ("arn:aws:iam::aws:policy/IAMReadOnlyAccess",
     {"list": True, "create": False, "reset": False, "update": False, "delete": False}),
])
def test_aws_managed_policy_as_boundary(world, arn, expected):
    # boundaries can be AWS managed policies (PutUserPermissionsBoundary, boundaries page)
    a = world.actor(statements=[allow(FIVE)], boundary=arn)
    table(world, a.iam, expected)


# -- non-enforcing emulator -----------------------------------------------------------------------------------


def test_without_enforce_everything_is_allowed(tmp_path):
    # regression: --access-key alone turns on SigV4, not authorization (docs/emulator.md flags table)
    e = start_enforcing(tmp_path, extra=(), name="noenforce")
    try:
        w = World(e)
        w.root.create_user(UserName="tgt")
        a = w.actor()
        table(w, a.iam, everything(True))
        assert a.iam.create_user(UserName="made-by-unprivileged")["User"]["UserName"] == "made-by-unprivileged"
    finally:
        e.stop()


# -- guardrail (SCP-like) -------------------------------------------------------------------------------------

GUARDRAIL = {
    "Version": "2012-10-17",
    "Statement": [
        # an SCP must allow too: everything but Update (so Update is "no service control policy allows")
        {"Sid": "AllowAllButUpdate", "Effect": "Allow", "NotAction": ACTIONS["update"], "Resource": "*"},
        {"Sid": "NoKeyspaces", "Effect": "Deny", "Action": ACTIONS["create"], "Resource": "*",
         "Condition": {"StringEquals": {"iam:ServiceSpecificCredentialServiceName": KS}}},
        {"Sid": "HandsOffProtected", "Effect": "Deny",
         "Action": [ACTIONS["reset"], ACTIONS["delete"]], "Resource": "arn:aws:iam::*:user/protected/*"},
    ],
}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    d = tmp_path_factory.mktemp("guardrail")
    f = d / "guardrail.json"
    f.write_text(json.dumps(GUARDRAIL, indent=2))
    e = start_enforcing(d, guardrails=(f,), name="guarded")
    w = World(e)
    w.root.create_user(UserName="tgt")
    w.root.create_user(UserName="prot-app", Path="/protected/")
    yield w
    e.stop()


def guarded_table(w: World, client) -> dict[str, bool]:
    """Runs the guardrail rows without relying on root's Update/Delete where the guardrail forbids them."""
    got = {}
    got["create cc"] = attempt(w, client, "create cc")
    got["create ks"] = attempt(w, client, "create ks")
    got["list"] = attempt(w, client, "list")
    got["reset"] = attempt(w, client, "reset")
    got["delete"] = attempt(w, client, "delete")
    cid = w.new_credential("tgt")
    try:
        got["update"] = _ok(lambda: client.update_service_specific_credential(
            UserName="tgt", ServiceSpecificCredentialId=cid, Status="Inactive"))
    finally:
        w.clear("tgt")
    pid = w.prot_cred
    got["reset @prot-app"] = _ok(lambda: client.reset_service_specific_credential(
        UserName="prot-app", ServiceSpecificCredentialId=pid))
    got["delete @prot-app"] = _ok(lambda: client.delete_service_specific_credential(
        UserName="prot-app", ServiceSpecificCredentialId=pid))
    got["list @prot-app"] = _ok(lambda: client.list_service_specific_credentials(UserName="prot-app"))
    return got


def _ok(fn) -> bool:
    try:
        fn()
        return True
    except ClientError as ex:
        if ex.response["Error"]["Code"] == "AccessDenied":
            return False
        raise


GUARDED_EXPECTED = {"create cc": True, "create ks": False, "list": True, "reset": True, "delete": True,
                    "update": False, "reset @prot-app": False, "delete @prot-app": False, "list @prot-app": True}


@pytest.fixture(scope="module")
def prot_cred(guarded):
    # made once: the guardrail forbids deleting it, even for root
    guarded.prot_cred = guarded.new_credential("prot-app")
    return guarded.prot_cred


def test_guardrail_applies_to_root(guarded, prot_cred):
    # "SCPs affect all users and roles in attached accounts, including the root user."
    # (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html [recalled])
    assert guarded_table(guarded, guarded.root) == GUARDED_EXPECTED


def test_guardrail_applies_to_users_with_full_permissions(guarded, prot_cred):
    # an SCP limits what identity policies grant: the request needs an Allow in the SCP too (iam-api.md §17.1
    # step 2), and "An explicit deny overrides an explicit allow."
    a = guarded.actor(statements=[allow("*", "*")])
    assert guarded_table(guarded, a.iam) == GUARDED_EXPECTED
    b = guarded.actor(statements=[allow(ACTIONS["list"])])
    assert not attempt(guarded, b.iam, "create cc")  # the guardrail allows it, no identity policy does


def test_guardrail_messages(guarded, prot_cred):
    # "with an explicit deny in a service control policy" / "because no service control policy allows the
    # <action> action" (troubleshoot_access-denied.html pattern, iam-api.md §18)
    root_arn = f"arn:aws:iam::{ACCOUNT}:root"
    expect_access_denied(lambda: guarded.root.create_service_specific_credential(UserName="tgt", ServiceName=KS),
                         who=root_arn, action=ACTIONS["create"], resource="user tgt", reason="explicit-scp")
    cid = guarded.new_credential("tgt")
    try:
        expect_access_denied(lambda: guarded.root.update_service_specific_credential(
            UserName="tgt", ServiceSpecificCredentialId=cid, Status="Inactive"),
            who=root_arn, action=ACTIONS["update"], resource="user tgt", reason="scp")
    finally:
        guarded.clear("tgt")


def test_guardrail_must_be_a_valid_policy(tmp_path):
    # a guardrail that is not a policy stops the start (emulator flag contract)
    f = tmp_path / "bad.json"
    f.write_text('{"Statement": [{"Effect": "Allow", "Action": "*"')
    _must_not_start(lambda: start_enforcing(tmp_path, guardrails=(f,), name="badguard"))


def test_enforce_requires_an_access_key(tmp_path):
    # "--enforce needs --access-key" (emulator flag contract)
    _must_not_start(lambda: start_enforcing(tmp_path, access_keys=(), name="nokey"))


def _must_not_start(start) -> None:
    try:
        e = start()
    except RuntimeError:
        return
    e.stop()
    pytest.fail("the emulator started")


# -- access keys made with CreateAccessKey --------------------------------------------------------------------------


def test_access_key_lifecycle(world):
    # keys made by CreateAccessKey sign as their user; "Access keys per user: 2" (quotas page) with AWS's
    # "Cannot exceed quota for AccessKeysPerUser: 2" (409, simonw/s3-credentials#64); a deleted key is unknown:
    # 403 InvalidClientTokenId "The security token included in the request is invalid." (iam-api.md §15.6)
    from conftest import expect_error

    a = world.actor(statements=[allow(FIVE)])
    second = world.root.create_access_key(UserName=a.name)["AccessKey"]
    assert second["AccessKeyId"].startswith("AKIA") and len(second["AccessKeyId"]) == 20
    assert len(second["SecretAccessKey"]) == 40 and second["Status"] == "Active"
    expect_error(world.root, lambda: world.root.create_access_key(UserName=a.name), code="LimitExceeded", status=409,
                 message="Cannot exceed quota for AccessKeysPerUser: 2", exc="LimitExceededException")
    listed = world.root.list_access_keys(UserName=a.name)["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted([a.key, second["AccessKeyId"]])
    assert all("SecretAccessKey" not in k for k in listed)
    c2 = aws_client(world.e, "iam", key=second["AccessKeyId"], secret=second["SecretAccessKey"])
    assert c2.list_service_specific_credentials(UserName="tgt")["ServiceSpecificCredentials"] == []
    world.root.delete_access_key(UserName=a.name, AccessKeyId=second["AccessKeyId"])
    expect_error(c2, lambda: c2.list_service_specific_credentials(UserName="tgt"), code="InvalidClientTokenId",
                 status=403, message="The security token included in the request is invalid.")
    assert a.iam.list_service_specific_credentials(UserName="tgt")["ServiceSpecificCredentials"] == []
