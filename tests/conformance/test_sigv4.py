"""SigV4 verification (`--access-key AKID:SECRET[:USER]`): real signatures from boto3 and the CLI in any
region are accepted, a wrong secret or unknown key is refused with AWS's codes, a tampered body is
caught, and the key's user is the caller for requests without UserName (iam-api.md §6.2)."""

import pytest
from botocore.exceptions import ClientError

from conftest import aws, expect_error, iam_client

CC = "codecommit.amazonaws.com"
KEY, SECRET = "AKIDTEST", "SECRETTEST"
BOB_KEY, BOB_SECRET = "AKIDBOBTEST", "SECRETBOB/with+chars="


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    from conftest import start_emulator

    e = start_emulator(tmp_path_factory.mktemp("sigv4"), users=("alice", "bob"),
                       access_keys=(f"{KEY}:{SECRET}:alice", f"{BOB_KEY}:{BOB_SECRET}:bob"), name="sigv4")
    yield e
    e.stop()


def good(e, **kw):
    return iam_client(e, key=KEY, secret=SECRET, **kw)


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1", "ap-southeast-2"])
def test_boto3_correct_credentials_any_region(signed, region):
    client = good(signed, region=region)
    assert client.get_user(UserName="bob")["User"]["UserName"] == "bob"
    assert {u["UserName"] for u in client.list_users()["Users"]} >= {"alice", "bob"}


@pytest.mark.parametrize("region", ["eu-west-1", "us-west-2"])
def test_cli_correct_credentials_any_region(signed, region):
    out = aws(signed, "get-user", key=KEY, secret=SECRET, region=region).json
    assert out["User"]["UserName"] == "alice"


def test_boto3_wrong_secret(signed):
    client = iam_client(signed, key=KEY, secret="WRONGSECRET")
    expect_error(client, lambda: client.list_users(), code="SignatureDoesNotMatch", status=403)


def test_boto3_unknown_key(signed):
    client = iam_client(signed, key="AKIDUNKNOWN", secret=SECRET)
    expect_error(client, lambda: client.list_users(), code="InvalidClientTokenId", status=403)


def test_auth_errors_change_nothing(signed, names):
    name = names("ghost")
    for key, secret in (("AKIDUNKNOWN", SECRET), (KEY, "WRONGSECRET")):
        client = iam_client(signed, key=key, secret=secret)
        with pytest.raises(ClientError):
            client.create_user(UserName=name)
    client = good(signed)
    expect_error(client, lambda: client.get_user(UserName=name), code="NoSuchEntity", status=404,
                 exc="NoSuchEntityException")


def test_cli_wrong_secret(signed):
    r = aws(signed, "list-users", key=KEY, secret="WRONGSECRET")
    assert r.rc in (254, 255), r
    assert "An error occurred (SignatureDoesNotMatch) when calling the ListUsers operation" in r.stderr, r.stderr


def test_cli_unknown_key(signed):
    r = aws(signed, "list-users", key="AKIDUNKNOWN", secret=SECRET)
    assert r.rc in (254, 255), r
    assert "An error occurred (InvalidClientTokenId) when calling the ListUsers operation" in r.stderr, r.stderr


def test_caller_is_key_user(signed):
    assert good(signed).get_user()["User"]["UserName"] == "alice"
    bob = iam_client(signed, key=BOB_KEY, secret=BOB_SECRET)
    assert bob.get_user()["User"]["UserName"] == "bob"


def test_request_without_user_name_acts_on_key_user(signed):
    client = good(signed)
    c = client.create_service_specific_credential(UserName="alice", ServiceName=CC)["ServiceSpecificCredential"]
    cid = c["ServiceSpecificCredentialId"]
    try:
        items = client.list_service_specific_credentials()["ServiceSpecificCredentials"]
        assert cid in {i["ServiceSpecificCredentialId"] for i in items}
        assert all(i["UserName"] == "alice" for i in items)
        # CLI without --user-name, same key
        cli_items = aws(signed, "list-service-specific-credentials", key=KEY, secret=SECRET).json[
            "ServiceSpecificCredentials"]
        assert {i["ServiceSpecificCredentialId"] for i in cli_items} == {i["ServiceSpecificCredentialId"] for i in items}
        n = client.reset_service_specific_credential(ServiceSpecificCredentialId=cid)["ServiceSpecificCredential"]
        assert n["UserName"] == "alice" and n["ServicePassword"] != c["ServicePassword"]
        aws(signed, "update-service-specific-credential", "--service-specific-credential-id", cid,
            "--status", "Inactive", key=KEY, secret=SECRET).json
        assert client.list_service_specific_credentials(UserName="alice")["ServiceSpecificCredentials"][0][
            "Status"] == "Inactive"
        # bob's key without UserName does not see or touch alice's credential
        bob = iam_client(signed, key=BOB_KEY, secret=BOB_SECRET)
        assert bob.list_service_specific_credentials()["ServiceSpecificCredentials"] == []
        expect_error(bob, lambda: bob.delete_service_specific_credential(ServiceSpecificCredentialId=cid),
                     code="ValidationError", status=400,
                     message=f"User bob does not have a service specific credential with id {cid}")
    finally:
        client.delete_service_specific_credential(ServiceSpecificCredentialId=cid)
    assert client.list_service_specific_credentials(UserName="alice")["ServiceSpecificCredentials"] == []


def test_secret_with_special_characters(signed):
    bob = iam_client(signed, key=BOB_KEY, secret=BOB_SECRET, region="eu-central-1")
    assert bob.get_user()["User"]["UserName"] == "bob"


def test_tampered_body_is_refused(signed):
    client = good(signed)

    def tamper(request, **_kw):
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        request.body = body.replace(b"UserName=bob", b"UserName=eve")
        request.headers["Content-Length"] = str(len(request.body))

    client.meta.events.register("before-send.iam.GetUser", tamper)
    expect_error(client, lambda: client.get_user(UserName="bob"), code="SignatureDoesNotMatch", status=403)


def test_unsigned_request_is_refused(signed):
    status, _h, body = signed.http("POST", "/", raw=b"Action=ListUsers&Version=2010-05-08",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status in (400, 403), (status, body)
    assert b"<ErrorResponse" in body


def test_unsigned_emulator_accepts_any_credentials(emu):
    # without --access-key, any well-formed signature is accepted
    client = iam_client(emu, key="AKIDWHATEVER", secret="whatever")
    assert client.get_user()["User"]["UserName"] == "caller"


def _shift_clock(monkeypatch, delta):
    import botocore.auth

    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: real(*a, **k) + delta)


def test_request_signed_20_minutes_ago_is_expired(signed, monkeypatch):
    import datetime as dt

    _shift_clock(monkeypatch, -dt.timedelta(minutes=20))
    client = good(signed)
    expect_error(client, lambda: client.list_users(), code="RequestExpired", status=400)


def test_request_signed_20_minutes_ahead_is_expired(signed, monkeypatch):
    import datetime as dt

    _shift_clock(monkeypatch, dt.timedelta(minutes=20))
    client = good(signed)
    expect_error(client, lambda: client.list_users(), code="RequestExpired", status=400)


def test_small_clock_skew_is_accepted(signed, monkeypatch):
    import datetime as dt

    _shift_clock(monkeypatch, -dt.timedelta(minutes=5))
    assert good(signed).get_user()["User"]["UserName"] == "alice"


def test_malformed_authorization_header(signed):
    status, _h, body = signed.http(
        "POST", "/", raw=b"Action=ListUsers&Version=2010-05-08",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/iam/aws4_request",
                 "X-Amz-Date": "20260101T000000Z"})
    assert status == 400, (status, body)
    assert b"<Code>IncompleteSignature</Code>" in body, body
