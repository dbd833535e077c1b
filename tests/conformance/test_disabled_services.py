"""`--disable-service`: boto3 sees a disabled service as unsupported for Create and List (both wire codes),
as in a region where the service is not offered; existing credentials of it stay listed."""

import pytest

from conftest import expect_error, iam_client

LOGS = "logs.amazonaws.com"
BR = "bedrock.amazonaws.com"
NO_SERVICE = f"No such service {LOGS} is supported for Service Specific Credentials"


@pytest.mark.parametrize(
    "code_flag, code, exc",
    [
        ((), "NoSuchEntity", "NoSuchEntityException"),
        (("--unsupported-service-code", "not-supported-service"), "NotSupportedService",
         "ServiceNotSupportedException"),
    ],
)
def test_disabled_service_is_unsupported_and_existing_keys_stay(emulator_factory, tmp_path, code_flag, code, exc):
    state = tmp_path / "iam.json"
    e = emulator_factory(users=("dev",), caller="dev", state_file=state, extra=code_flag)
    client = iam_client(e)
    old = client.create_service_specific_credential(UserName="dev", ServiceName=LOGS)["ServiceSpecificCredential"]
    assert e.stop() == 0

    e = emulator_factory(users=("dev",), caller="dev", state_file=state,
                         extra=(*code_flag, "--disable-service", LOGS), name="disabled")
    client = iam_client(e)
    expect_error(client, lambda: client.create_service_specific_credential(UserName="dev", ServiceName=LOGS),
                 code=code, status=404, message=NO_SERVICE, exc=exc)
    expect_error(client, lambda: client.list_service_specific_credentials(UserName="dev", ServiceName=LOGS),
                 code=code, status=404, message=NO_SERVICE, exc=exc)
    expect_error(client, lambda: client.list_service_specific_credentials(AllUsers=True, ServiceName=LOGS),
                 code=code, status=404, message=NO_SERVICE, exc=exc)

    listed = client.list_service_specific_credentials(UserName="dev")["ServiceSpecificCredentials"]
    assert [c["ServiceSpecificCredentialId"] for c in listed] == [old["ServiceSpecificCredentialId"]]
    assert listed[0]["ServiceName"] == LOGS
    assert listed[0]["ServiceCredentialAlias"] == old["ServiceCredentialAlias"]
    assert listed[0]["Status"] == "Active"

    # other services are still offered
    client.create_service_specific_credential(UserName="dev", ServiceName=BR)
