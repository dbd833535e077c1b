"""Fault injection (`/_emulator/faults`, `/_emulator/faults/inject`): throttling and 5xx as the SDKs
see them, and their default retries riding them out (iam-api.md §5, §6.4, §6.5)."""

import time

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from conftest import DUMMY_KEY, DUMMY_SECRET, REGION, aws, expect_error, iam_client

CC = "codecommit.amazonaws.com"
CREATE = "CreateServiceSpecificCredential"
THROTTLE = "throttle"
SERVER_ERROR = "serverError"


@pytest.fixture
def emu_f(fresh):
    yield fresh


def _user(client, name="f"):
    client.create_user(UserName=name)
    return name


def test_injected_throttling_seen_without_retries(emu_f):
    client = iam_client(emu_f)
    user = _user(client)
    emu_f.inject(THROTTLE, 1, action=CREATE)
    expect_error(client, lambda: client.create_service_specific_credential(UserName=user, ServiceName=CC),
                 code="Throttling", status=400, message="Rate exceeded", type_="Sender")
    # the throttled call did nothing; the fault is used up and the next call works
    assert client.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"] == []
    client.create_service_specific_credential(UserName=user, ServiceName=CC)


def test_injected_throttling_only_hits_its_action(emu_f):
    client = iam_client(emu_f)
    user = _user(client)
    emu_f.inject(THROTTLE, 1, action=CREATE)
    client.list_users()
    client.get_user(UserName=user)
    client.list_service_specific_credentials(UserName=user)
    expect_error(client, lambda: client.create_service_specific_credential(UserName=user, ServiceName=CC),
                 code="Throttling", status=400, message="Rate exceeded")


def test_injected_throttling_any_action(emu_f):
    client = iam_client(emu_f)
    emu_f.inject(THROTTLE, 2, action=None)
    expect_error(client, lambda: client.list_users(), code="Throttling", status=400, message="Rate exceeded")
    expect_error(client, lambda: client.get_user(), code="Throttling", status=400, message="Rate exceeded")
    client.list_users()


def test_throttling_retried_to_success_by_boto3(emu_f):
    client = iam_client(emu_f, retries=True)
    user = _user(client)
    emu_f.inject(THROTTLE, 2, action=CREATE)
    resp = client.create_service_specific_credential(UserName=user, ServiceName=CC)
    assert resp["ResponseMetadata"]["RetryAttempts"] == 2
    items = client.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
    assert len(items) == 1  # the throttled attempts created nothing


def test_throttling_exhausts_standard_retries(emu_f):
    client = iam_client(emu_f, max_attempts=2)
    emu_f.inject(THROTTLE, 5, action="ListUsers")
    resp = expect_error(client, lambda: client.list_users(), code="Throttling", status=400, message="Rate exceeded")
    assert resp["ResponseMetadata"]["RetryAttempts"] == 1


def test_throttling_retried_to_success_by_cli(emu_f):
    client = iam_client(emu_f)
    user = _user(client)
    emu_f.inject(THROTTLE, 2, action=CREATE)
    out = aws(emu_f, "create-service-specific-credential", "--user-name", user, "--service-name", CC).json
    assert out["ServiceSpecificCredential"]["UserName"] == user
    assert len(client.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]) == 1


def test_cli_reports_throttling_after_max_retries(emu_f):
    emu_f.inject(THROTTLE, 10, action="ListUsers")
    r = aws(emu_f, "list-users", env={"AWS_MAX_ATTEMPTS": "2", "AWS_RETRY_MODE": "standard"})
    assert r.rc in (254, 255), r
    assert "An error occurred (Throttling) when calling the ListUsers operation (reached max retries: 1): " \
           "Rate exceeded" in r.stderr, r.stderr


def test_injected_503_seen_without_retries(emu_f):
    client = iam_client(emu_f)
    emu_f.inject(SERVER_ERROR, 1, action="ListUsers", status=503)
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as ei:
        client.list_users()
    r = ei.value.response
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert r["Error"]["Code"] == "ServiceUnavailable", r["Error"]
    assert r["Error"]["Type"] == "Receiver", r["Error"]
    client.list_users()


def test_injected_500_seen_without_retries(emu_f):
    client = iam_client(emu_f)
    emu_f.inject(SERVER_ERROR, 1, action="GetUser", status=500)
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as ei:
        client.get_user()
    r = ei.value.response
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert r["Error"].get("Type") == "Receiver", r["Error"]
    assert r["Error"]["Code"] in ("InternalFailure", "ServiceFailure"), r["Error"]


def test_503_retried_to_success(emu_f):
    client = iam_client(emu_f, retries=True)
    user = _user(client)
    emu_f.inject(SERVER_ERROR, 2, action=CREATE, status=503)
    resp = client.create_service_specific_credential(UserName=user, ServiceName=CC)
    assert resp["ResponseMetadata"]["RetryAttempts"] == 2
    emu_f.inject(SERVER_ERROR, 1, action="ListServiceSpecificCredentials")
    out = aws(emu_f, "list-service-specific-credentials", "--user-name", user).json
    assert len(out["ServiceSpecificCredentials"]) == 1


def test_throttle_rate_setting(emu_f):
    client = iam_client(emu_f)
    faults = emu_f.get_faults()
    assert faults["throttleRate"] == 0.0 and faults["serverErrorRate"] == 0.0
    emu_f.set_faults(throttleRate=1.0)
    assert emu_f.get_faults()["throttleRate"] == 1.0
    for _ in range(3):
        expect_error(client, lambda: client.list_users(), code="Throttling", status=400, message="Rate exceeded")
    # admin endpoints are never faulted
    assert emu_f.http("GET", "/healthz")[0] == 200
    emu_f.set_faults(throttleRate=0.0)
    client.list_users()


def test_server_error_rate_setting(emu_f):
    client = iam_client(emu_f)
    emu_f.set_faults(serverErrorRate=1.0)
    from botocore.exceptions import ClientError

    for _ in range(2):
        with pytest.raises(ClientError) as ei:
            client.list_users()
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 500
    emu_f.set_faults(serverErrorRate=0.0)
    client.list_users()


def test_throttle_rate_flag(emulator_factory):
    e = emulator_factory(users=("caller",), extra=("--throttle-rate", "1.0"))
    client = iam_client(e)
    expect_error(client, lambda: client.list_users(), code="Throttling", status=400, message="Rate exceeded")
    assert e.get_faults()["throttleRate"] == 1.0


def test_server_error_rate_flag(emulator_factory):
    e = emulator_factory(users=("caller",), extra=("--server-error-rate", "1.0"))
    client = iam_client(e)
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as ei:
        client.list_users()
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 500


def test_latency_flag(emulator_factory):
    e = emulator_factory(users=("caller",), extra=("--latency-ms", "400"))
    client = iam_client(e)
    client.list_users()  # warm the connection
    t0 = time.monotonic()
    client.list_users()
    assert time.monotonic() - t0 >= 0.4


def test_fault_settings_action_filter(emu_f):
    client = iam_client(emu_f)
    emu_f.set_faults(throttleRate=1.0, actions=["ListUsers"])
    expect_error(client, lambda: client.list_users(), code="Throttling", status=400, message="Rate exceeded")
    assert client.get_user()["User"]["UserName"] == "caller"
    emu_f.clear_faults()
    client.list_users()


def test_latency_setting(emu_f):
    client = iam_client(emu_f)
    client.list_users()
    emu_f.set_faults(latencyMs=300)
    t0 = time.monotonic()
    client.list_users()
    assert time.monotonic() - t0 >= 0.3
    emu_f.clear_faults()


def test_bad_fault_settings_rejected(emu_f):
    status, _h, _b = emu_f.http("PUT", "/_emulator/faults", {"throttleRate": 1.5})
    assert status in (400, 422), status
    assert emu_f.get_faults()["throttleRate"] == 0.0


def test_a_create_delivered_late_is_carried_out_after_the_client_gave_up(emu_f):
    """deliverLate: a network holds the request and delivers it later; the client never hears back,
    IAM carries it out anyway (what the operator's unknown-Create window is for)."""
    client = iam_client(emu_f)
    user = _user(client)
    emu_f.admin("POST", "/_emulator/faults/inject",
                {"action": CREATE, "kind": "deliverLate", "delayMs": 1500})
    impatient = boto3_client_with_read_timeout(emu_f, 0.5)
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        impatient.create_service_specific_credential(UserName=user, ServiceName=CC)
    assert client.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"] == []
    deadline = time.monotonic() + 10
    while not client.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]:
        assert time.monotonic() < deadline, "the held Create was never carried out"
        time.sleep(0.2)
    # Used up: the next Create is answered at once.
    client.create_service_specific_credential(UserName=user, ServiceName=CC)


@pytest.mark.parametrize("body", [
    {"kind": "deliverLate"},                       # no delayMs
    {"kind": "deliverLate", "delayMs": -1},
    {"kind": "deliverLate", "delayMs": "soon"},
])
def test_a_malformed_deliver_late_injection_is_refused(emu_f, body):
    status, _h, _data = emu_f.http("POST", "/_emulator/faults/inject", body)
    assert status == 400, (body, status)


def boto3_client_with_read_timeout(e, seconds):
    """An IAM client that gives up after `seconds` without an answer, and does not retry."""
    session = boto3.session.Session(aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_SECRET,
                                    region_name=REGION)
    return session.client("iam", endpoint_url=e.url, config=Config(
        connect_timeout=5, read_timeout=seconds, retries={"total_max_attempts": 1, "mode": "standard"}))
