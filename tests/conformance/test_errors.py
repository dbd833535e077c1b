"""Error cases of iam-api.md §3.6, §5 and §7 for the service-specific-credential operations:
boto3 (code, exact message, type, HTTP status, modeled exception class) and the AWS CLI (exit code,
stderr line)."""

import pytest
from botocore.exceptions import ClientError

from conftest import VALIDATION_PREFIX, assert_cli_error, aws, expect_error, iam_client

CC = "codecommit.amazonaws.com"
KS = "cassandra.amazonaws.com"
BR = "bedrock.amazonaws.com"

BAD_ID = "totally-wrong-credential-id-with-hyphens"
BAD_ID_MSG = (VALIDATION_PREFIX + "Value at 'serviceSpecificCredentialId' failed to satisfy constraint: "
              r"Member must satisfy regular expression pattern: [\w]+")
MISSING_ID = "ACCAAAAAAAAAAAAAAAAAA"  # matches [\w]+, 21 chars, never issued
STATUS_MSG = (VALIDATION_PREFIX + "Value at 'status' failed to satisfy constraint: "
              "Member must satisfy enum value set")
USERNAME_PATTERN_MSG = (VALIDATION_PREFIX + "Value at 'userName' failed to satisfy constraint: "
                        r"Member must satisfy regular expression pattern: [\w+=,.@-]+")
# live IAM, 2026-09 (iam-api.md §14, stackd's recording): the same text for all six services
LIMIT_MSG = "Cannot exceed quota for ContextSpecificCredentialsPerUserPerContext: 2"
UNKNOWN_SERVICES = ["nonexistentservice.amazonaws.com", "o3on3n3onosneo", "lambda.amazonaws.com"]


def no_user(name: str) -> str:
    return f"The user with name {name} cannot be found."


def no_service(name: str) -> str:
    return f"No such service {name} is supported for Service Specific Credentials"


@pytest.fixture
def user(iam, names) -> str:
    n = names("err")
    iam.create_user(UserName=n)
    return n


@pytest.fixture
def cred(iam, user) -> dict:
    return iam.create_service_specific_credential(UserName=user, ServiceName=CC)["ServiceSpecificCredential"]


def _id_ops(client):
    """Update, Reset and Delete, each as f(user, id) -> response."""
    return {
        "UpdateServiceSpecificCredential": lambda u, i, **kw: client.update_service_specific_credential(
            ServiceSpecificCredentialId=i, Status="Inactive", **({"UserName": u} if u else {}), **kw),
        "ResetServiceSpecificCredential": lambda u, i, **kw: client.reset_service_specific_credential(
            ServiceSpecificCredentialId=i, **({"UserName": u} if u else {}), **kw),
        "DeleteServiceSpecificCredential": lambda u, i, **kw: client.delete_service_specific_credential(
            ServiceSpecificCredentialId=i, **({"UserName": u} if u else {}), **kw),
    }


ID_OPS = ["UpdateServiceSpecificCredential", "ResetServiceSpecificCredential", "DeleteServiceSpecificCredential"]


# -- Create ---------------------------------------------------------------------------------


def test_create_unknown_user(iam):
    expect_error(iam, lambda: iam.create_service_specific_credential(UserName="non-existent-user", ServiceName=CC),
                 code="NoSuchEntity", status=404, message=no_user("non-existent-user"), exc="NoSuchEntityException")


def test_create_unknown_user_checked_before_service(iam):
    expect_error(iam, lambda: iam.create_service_specific_credential(
        UserName="non-existent-user", ServiceName="nonexistentservice.amazonaws.com"),
        code="NoSuchEntity", status=404, message=no_user("non-existent-user"), exc="NoSuchEntityException")


@pytest.mark.parametrize("service", UNKNOWN_SERVICES)
def test_create_unknown_service(iam, user, service):
    # AWS-recorded: NoSuchEntity (not NotSupportedService) for unknown service names
    expect_error(iam, lambda: iam.create_service_specific_credential(UserName=user, ServiceName=service),
                 code="NoSuchEntity", status=404, message=no_service(service), exc="NoSuchEntityException")


@pytest.mark.parametrize("service", [CC, KS, BR])
def test_create_third_credential_limit_exceeded(iam, user, service):
    first = iam.create_service_specific_credential(UserName=user, ServiceName=service)
    iam.create_service_specific_credential(UserName=user, ServiceName=service)
    expect_error(iam, lambda: iam.create_service_specific_credential(UserName=user, ServiceName=service),
                 code="LimitExceeded", status=409, message=LIMIT_MSG, exc="LimitExceededException")
    # nothing was created by the failed call
    items = iam.list_service_specific_credentials(UserName=user, ServiceName=service)["ServiceSpecificCredentials"]
    assert len(items) == 2
    # an Inactive credential still holds its slot
    iam.update_service_specific_credential(
        UserName=user, ServiceSpecificCredentialId=first["ServiceSpecificCredential"]["ServiceSpecificCredentialId"],
        Status="Inactive")
    expect_error(iam, lambda: iam.create_service_specific_credential(UserName=user, ServiceName=service),
                 code="LimitExceeded", status=409, message=LIMIT_MSG, exc="LimitExceededException")


def test_limit_exceeded_is_not_retried(emu, user):
    client = iam_client(emu, retries=True)
    for _ in range(2):
        client.create_service_specific_credential(UserName=user, ServiceName=KS)
    with pytest.raises(client.exceptions.LimitExceededException) as ei:
        client.create_service_specific_credential(UserName=user, ServiceName=KS)
    assert ei.value.response["ResponseMetadata"]["RetryAttempts"] == 0


def test_create_credential_age_days_on_password_service(iam, user):
    # AWS accepts CredentialAgeDays for CodeCommit passwords and returns ExpirationDate = CreateDate + N days,
    # though the API reference speaks of API keys only: stackd's probes against live AWS (2026-09,
    # radkawar/stackd docs/iam-service-credentials.md, fixture service_credentials_aws.json case
    # legacy-expiration; iam-api.md §14). Keyspaces is treated the same (unverified against AWS).
    for service in (CC, KS):
        c = iam.create_service_specific_credential(UserName=user, ServiceName=service, CredentialAgeDays=30)[
            "ServiceSpecificCredential"]
        assert "ServicePassword" in c
        assert (c["ExpirationDate"] - c["CreateDate"]).total_seconds() == 30 * 86400, c
    listed = iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
    assert sorted(c["ServiceName"] for c in listed) == sorted([CC, KS])
    assert all("ExpirationDate" in c for c in listed), listed


@pytest.mark.parametrize("days,constraint", [
    (0, "Member must have value greater than or equal to 1"),
    (36601, "Member must have value less than or equal to 36600"),
])
def test_create_credential_age_days_out_of_range(emu, user, days, constraint):
    client = iam_client(emu, validate=False)  # botocore itself refuses 0
    expect_error(client, lambda: client.create_service_specific_credential(
        UserName=user, ServiceName=BR, CredentialAgeDays=days), code="ValidationError", status=400,
        message=VALIDATION_PREFIX + f"Value at 'credentialAgeDays' failed to satisfy constraint: {constraint}")


@pytest.mark.parametrize("bad", ["a b", "bad!name", "x/y"])
def test_create_user_name_pattern(iam, bad):
    expect_error(iam, lambda: iam.create_service_specific_credential(UserName=bad, ServiceName=CC),
                 code="ValidationError", status=400, message=USERNAME_PATTERN_MSG)


def test_create_user_name_too_long(iam):
    expect_error(iam, lambda: iam.create_service_specific_credential(UserName="a" * 65, ServiceName=CC),
                 code="ValidationError", status=400,
                 message=VALIDATION_PREFIX + "Value at 'userName' failed to satisfy constraint: "
                 "Member must have length less than or equal to 64")


def test_create_missing_service_name(emu, user):
    client = iam_client(emu, validate=False)
    with pytest.raises(ClientError) as ei:
        client.create_service_specific_credential(UserName=user)
    r = ei.value.response
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert r["Error"]["Code"] in ("MissingParameter", "ValidationError"), r["Error"]


# -- List -----------------------------------------------------------------------------------


def test_list_unknown_user(iam):
    expect_error(iam, lambda: iam.list_service_specific_credentials(UserName="nobody-here"),
                 code="NoSuchEntity", status=404, message=no_user("nobody-here"), exc="NoSuchEntityException")


def test_service_names_fold_case_and_bad_characters_are_refused(iam, user):
    # live IAM, 2026-09 (iam-api.md §14): "CodeCommit.amazonaws.com" is accepted and answered in lower case;
    # " CODECOMMIT.amazonaws.com " is 400 ValidationError "ServiceName must match [a-zA-Z0-9.-]*"
    made = iam.create_service_specific_credential(UserName=user, ServiceName="CodeCommit.amazonaws.com")[
        "ServiceSpecificCredential"]
    assert made["ServiceName"] == CC
    listed = iam.list_service_specific_credentials(UserName=user, ServiceName="CODECOMMIT.AMAZONAWS.COM")
    assert [c["ServiceName"] for c in listed["ServiceSpecificCredentials"]] == [CC]
    expect_error(iam, lambda: iam.create_service_specific_credential(UserName=user,
                                                                     ServiceName=" CODECOMMIT.amazonaws.com "),
                 code="ValidationError", status=400, message="ServiceName must match [a-zA-Z0-9.-]*")


@pytest.mark.parametrize("service", UNKNOWN_SERVICES)
def test_list_unknown_service(iam, user, service):
    expect_error(iam, lambda: iam.list_service_specific_credentials(UserName=user, ServiceName=service),
                 code="NoSuchEntity", status=404, message=no_service(service), exc="NoSuchEntityException")


def test_list_all_users_with_user_name(iam, user):
    # live IAM's answer (iam-api.md §14)
    expect_error(iam, lambda: iam.list_service_specific_credentials(AllUsers=True, UserName=user, ServiceName=CC),
                 code="InvalidInput", status=400, exc="InvalidInputException",
                 message="Cannot list credentials for all users if a username is given")


def test_list_all_users_without_service_name(iam, cred):
    # live IAM lists every service (iam-api.md §14)
    listed = iam.list_service_specific_credentials(AllUsers=True)["ServiceSpecificCredentials"]
    assert cred["ServiceSpecificCredentialId"] in [c["ServiceSpecificCredentialId"] for c in listed]


@pytest.mark.parametrize("bad,constraint", [
    (0, "Member must have value greater than or equal to 1"),
    (1001, "Member must have value less than or equal to 1000"),
])
def test_list_max_items_out_of_range(emu, user, bad, constraint):
    client = iam_client(emu, validate=False)
    expect_error(client, lambda: client.list_service_specific_credentials(UserName=user, MaxItems=bad),
                 code="ValidationError", status=400,
                 message=VALIDATION_PREFIX + f"Value at 'maxItems' failed to satisfy constraint: {constraint}")


def test_list_user_name_pattern(iam):
    expect_error(iam, lambda: iam.list_service_specific_credentials(UserName="no spaces"),
                 code="ValidationError", status=400, message=USERNAME_PATTERN_MSG)


# -- Update / Reset / Delete ----------------------------------------------------------------


@pytest.mark.parametrize("op", ID_OPS)
def test_wrong_user_name_for_id(iam, cred, op):
    f = _id_ops(iam)[op]
    expect_error(iam, lambda: f("wrong-user-name", cred["ServiceSpecificCredentialId"]),
                 code="NoSuchEntity", status=404, message=no_user("wrong-user-name"), exc="NoSuchEntityException")


@pytest.mark.parametrize("op", ID_OPS)
def test_other_existing_users_id(iam, names, cred, op):
    other = names("other")
    iam.create_user(UserName=other)
    f = _id_ops(iam)[op]
    cid = cred["ServiceSpecificCredentialId"]
    # live IAM answers an existing user that does not own the id with 400 ValidationError (iam-api.md §14)
    expect_error(iam, lambda: f(other, cid), code="ValidationError", status=400,
                 message=f"User {other} does not have a service specific credential with id {cid}")
    # the owner's credential is untouched
    [item] = iam.list_service_specific_credentials(UserName=cred["UserName"])["ServiceSpecificCredentials"]
    assert item["ServiceSpecificCredentialId"] == cid and item["Status"] == "Active"


@pytest.mark.parametrize("op", ID_OPS)
def test_id_fails_pattern(iam, user, op):
    f = _id_ops(iam)[op]
    expect_error(iam, lambda: f(user, BAD_ID), code="ValidationError", status=400, message=BAD_ID_MSG)


@pytest.mark.parametrize("op", ID_OPS)
def test_id_pattern_checked_before_user(iam, op):
    f = _id_ops(iam)[op]
    expect_error(iam, lambda: f("wrong-user-name", BAD_ID), code="ValidationError", status=400, message=BAD_ID_MSG)


@pytest.mark.parametrize("op", ID_OPS)
def test_id_not_found(iam, user, op):
    f = _id_ops(iam)[op]
    expect_error(iam, lambda: f(user, MISSING_ID), code="NoSuchEntity", status=404,
                 message=f"No such credential {MISSING_ID} exists", exc="NoSuchEntityException")


@pytest.mark.parametrize("op", ID_OPS)
def test_id_too_long(emu, user, op):
    client = iam_client(emu)
    f = _id_ops(client)[op]
    expect_error(client, lambda: f(user, "A" * 129), code="ValidationError", status=400,
                 message=VALIDATION_PREFIX + "Value at 'serviceSpecificCredentialId' failed to satisfy constraint: "
                 "Member must have length less than or equal to 128")


@pytest.mark.parametrize("op", ID_OPS)
def test_id_too_short(emu, user, op):
    client = iam_client(emu, validate=False)  # botocore refuses < 20 locally
    f = _id_ops(client)[op]
    expect_error(client, lambda: f(user, "ACCA123"), code="ValidationError", status=400,
                 message=VALIDATION_PREFIX + "Value at 'serviceSpecificCredentialId' failed to satisfy constraint: "
                 "Member must have length greater than or equal to 20")


def test_deleted_id_is_gone(iam, cred):
    cid, u = cred["ServiceSpecificCredentialId"], cred["UserName"]
    iam.delete_service_specific_credential(UserName=u, ServiceSpecificCredentialId=cid)
    for op in ID_OPS:
        f = _id_ops(iam)[op]
        expect_error(iam, lambda: f(u, cid), code="NoSuchEntity", status=404,
                     message=f"No such credential {cid} exists", exc="NoSuchEntityException")


def test_update_status_invalid(iam, cred):
    expect_error(iam, lambda: iam.update_service_specific_credential(
        UserName=cred["UserName"], ServiceSpecificCredentialId=cred["ServiceSpecificCredentialId"], Status="Invalid"),
        code="ValidationError", status=400, message=STATUS_MSG)


def test_update_status_expired_rejected(iam, cred):
    with pytest.raises(ClientError) as ei:
        iam.update_service_specific_credential(UserName=cred["UserName"],
                                               ServiceSpecificCredentialId=cred["ServiceSpecificCredentialId"],
                                               Status="Expired")
    r = ei.value.response
    # live IAM's answer (iam-api.md §14)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert (r["Error"]["Code"], r["Error"]["Message"]) == ("InvalidInput", "Operation does not support status Expired")
    [item] = iam.list_service_specific_credentials(UserName=cred["UserName"])["ServiceSpecificCredentials"]
    assert item["Status"] == "Active"


def test_update_missing_status(emu, cred):
    client = iam_client(emu, validate=False)
    with pytest.raises(ClientError) as ei:
        client.update_service_specific_credential(UserName=cred["UserName"],
                                                  ServiceSpecificCredentialId=cred["ServiceSpecificCredentialId"])
    r = ei.value.response
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert r["Error"]["Code"] in ("MissingParameter", "ValidationError"), r["Error"]


def test_several_violations(emu):
    # Each violation alone has its recorded message; together they are either reported one at a time
    # or as "N validation errors detected: A; B" (the usual AWS style, unverified for IAM). Never a 404.
    client = iam_client(emu)
    singles = {
        "Value at 'serviceSpecificCredentialId' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w]+",
        "Value at 'status' failed to satisfy constraint: Member must satisfy enum value set",
        "Value at 'userName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w+=,.@-]+",
    }
    with pytest.raises(ClientError) as ei:
        client.update_service_specific_credential(UserName="bad name", ServiceSpecificCredentialId=BAD_ID,
                                                  Status="Invalid")
    r = ei.value.response
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert r["Error"]["Code"] == "ValidationError"
    msg = r["Error"]["Message"]
    if msg.startswith(VALIDATION_PREFIX):
        assert msg[len(VALIDATION_PREFIX):] in singles, msg
    else:
        prefix = "3 validation errors detected: "
        assert msg.startswith(prefix), msg
        assert set(msg[len(prefix):].split("; ")) == singles, msg


# -- AWS CLI --------------------------------------------------------------------------------


def test_cli_unknown_user(emu):
    r = aws(emu, "create-service-specific-credential", "--user-name", "non-existent-user", "--service-name", CC)
    assert_cli_error(r, "NoSuchEntity", "CreateServiceSpecificCredential", no_user("non-existent-user"))


def test_cli_unknown_service(emu, user):
    r = aws(emu, "create-service-specific-credential", "--user-name", user,
            "--service-name", "lambda.amazonaws.com")
    assert_cli_error(r, "NoSuchEntity", "CreateServiceSpecificCredential", no_service("lambda.amazonaws.com"))


def test_cli_third_credential(emu, user):
    for _ in range(2):
        assert aws(emu, "create-service-specific-credential", "--user-name", user, "--service-name", CC).rc == 0
    r = aws(emu, "create-service-specific-credential", "--user-name", user, "--service-name", CC)
    assert_cli_error(r, "LimitExceeded", "CreateServiceSpecificCredential", LIMIT_MSG)


def test_cli_bad_id_pattern(emu, user):
    r = aws(emu, "reset-service-specific-credential", "--user-name", user,
            "--service-specific-credential-id", BAD_ID)
    assert_cli_error(r, "ValidationError", "ResetServiceSpecificCredential", BAD_ID_MSG)


def test_cli_wrong_user(emu, cred):
    r = aws(emu, "delete-service-specific-credential", "--user-name", "wrong-user-name",
            "--service-specific-credential-id", cred["ServiceSpecificCredentialId"])
    assert_cli_error(r, "NoSuchEntity", "DeleteServiceSpecificCredential", no_user("wrong-user-name"))


def test_cli_id_not_found(emu, user):
    r = aws(emu, "update-service-specific-credential", "--user-name", user,
            "--service-specific-credential-id", MISSING_ID, "--status", "Active")
    assert_cli_error(r, "NoSuchEntity", "UpdateServiceSpecificCredential", f"No such credential {MISSING_ID} exists")


def test_cli_status_invalid(emu, cred):
    r = aws(emu, "update-service-specific-credential", "--user-name", cred["UserName"],
            "--service-specific-credential-id", cred["ServiceSpecificCredentialId"], "--status", "Invalid")
    assert_cli_error(r, "ValidationError", "UpdateServiceSpecificCredential", STATUS_MSG)


def test_cli_status_expired(emu, cred):
    r = aws(emu, "update-service-specific-credential", "--user-name", cred["UserName"],
            "--service-specific-credential-id", cred["ServiceSpecificCredentialId"], "--status", "Expired")
    assert r.rc in (254, 255), r
    assert ("An error occurred (ValidationError) when calling the UpdateServiceSpecificCredential operation" in r.stderr
            or "An error occurred (InvalidInput) when calling the UpdateServiceSpecificCredential operation"
            in r.stderr), r.stderr


def test_cli_credential_age_days_on_codecommit(emu, user):
    # accepted by AWS (see test_create_credential_age_days_on_password_service)
    r = aws(emu, "create-service-specific-credential", "--user-name", user, "--service-name", CC,
            "--credential-age-days", "30")
    assert r.rc == 0, r
    assert '"ExpirationDate"' in r.stdout, r.stdout


def test_cli_all_users_with_user_name(emu, user):
    r = aws(emu, "list-service-specific-credentials", "--all-users", "--user-name", user, "--service-name", CC)
    assert r.rc in (254, 255), r
    assert "(ValidationError)" in r.stderr or "(InvalidInput)" in r.stderr, r.stderr


def test_cli_max_items_out_of_range(emu, user):
    r = aws(emu, "list-service-specific-credentials", "--user-name", user, "--max-items", "1001")
    assert_cli_error(r, "ValidationError", "ListServiceSpecificCredentials",
                     VALIDATION_PREFIX + "Value at 'maxItems' failed to satisfy constraint: "
                     "Member must have value less than or equal to 1000")


def test_cli_user_name_pattern(emu):
    r = aws(emu, "list-service-specific-credentials", "--user-name", "bad name")
    assert_cli_error(r, "ValidationError", "ListServiceSpecificCredentials", USERNAME_PATTERN_MSG)


# -- --unsupported-service-code not-supported-service ---------------------------------------


@pytest.fixture(scope="module")
def emu_nss(tmp_path_factory):
    from conftest import start_emulator

    e = start_emulator(tmp_path_factory.mktemp("nss"), users=("caller", "nss-user"),
                       extra=("--unsupported-service-code", "not-supported-service"), name="nss")
    yield e
    e.stop()


@pytest.mark.parametrize("service", UNKNOWN_SERVICES)
def test_not_supported_service_code_is_modeled(emu_nss, service):
    # wire code NotSupportedService must map to botocore's ServiceNotSupportedException
    client = iam_client(emu_nss)
    expect_error(client, lambda: client.create_service_specific_credential(UserName="nss-user", ServiceName=service),
                 code="NotSupportedService", status=404, message=no_service(service),
                 exc="ServiceNotSupportedException")
    expect_error(client, lambda: client.list_service_specific_credentials(UserName="nss-user", ServiceName=service),
                 code="NotSupportedService", status=404, message=no_service(service),
                 exc="ServiceNotSupportedException")
    # the user check still comes first
    expect_error(client, lambda: client.create_service_specific_credential(UserName="nobody", ServiceName=service),
                 code="NoSuchEntity", status=404, message=no_user("nobody"), exc="NoSuchEntityException")


def test_cli_not_supported_service(emu_nss):
    r = aws(emu_nss, "create-service-specific-credential", "--user-name", "nss-user",
            "--service-name", "lambda.amazonaws.com")
    assert_cli_error(r, "NotSupportedService", "CreateServiceSpecificCredential", no_service("lambda.amazonaws.com"))
