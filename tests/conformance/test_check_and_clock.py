"""Credentials work the way the real service would check them (`POST /_emulator/check`): Reset
invalidates the old password at once, Inactive credentials are refused, API keys expire with the
emulator clock (`POST /_emulator/clock`) and are then listed as Expired."""

import datetime as dt

import pytest

from conftest import aws, iam_client

CC = "codecommit.amazonaws.com"
KS = "cassandra.amazonaws.com"
BR = "bedrock.amazonaws.com"


def _new(iam, names, service, **kw):
    user = names("chk")
    iam.create_user(UserName=user)
    c = iam.create_service_specific_credential(UserName=user, ServiceName=service, **kw)[
        "ServiceSpecificCredential"]
    return user, c


def _ok(result: dict, c: dict) -> None:
    assert result == {"valid": True, "reason": "ok", "credentialId": c["ServiceSpecificCredentialId"],
                      "userName": c["UserName"]}, result


def _altered(password: str) -> str:
    """The password with its first character changed: always a different password (replacing the
    tail with a fixed string was the same password whenever the tail already was that string)."""
    return ("B" if password[0] == "A" else "A") + password[1:]


def _refused(result: dict, reason: str) -> None:
    assert result["valid"] is False, result
    assert result["reason"] == reason, result


@pytest.mark.parametrize("service", [CC, KS])
def test_check_password(emu, iam, names, service):
    _user, c = _new(iam, names, service)
    _ok(emu.check_password(service, c["ServiceUserName"], c["ServicePassword"]), c)
    _refused(emu.check_password(service, c["ServiceUserName"], _altered(c["ServicePassword"])), "wrongPassword")
    _refused(emu.check_password(service, "nobody-at-123456789012", c["ServicePassword"]), "unknown")


def test_check_second_slot(emu, iam, names):
    user, first = _new(iam, names, CC)
    second = iam.create_service_specific_credential(UserName=user, ServiceName=CC)["ServiceSpecificCredential"]
    _ok(emu.check_password(CC, second["ServiceUserName"], second["ServicePassword"]), second)
    _ok(emu.check_password(CC, first["ServiceUserName"], first["ServicePassword"]), first)
    # each slot has its own password
    _refused(emu.check_password(CC, first["ServiceUserName"], second["ServicePassword"]), "wrongPassword")


def test_check_is_per_service(emu, iam, names):
    _user, c = _new(iam, names, CC)
    r = emu.check_password(KS, c["ServiceUserName"], c["ServicePassword"])
    assert r["valid"] is False, r


def test_reset_rotates_password(emu, iam, names):
    user, c = _new(iam, names, CC)
    n = iam.reset_service_specific_credential(UserName=user, ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])[
        "ServiceSpecificCredential"]
    _refused(emu.check_password(CC, c["ServiceUserName"], c["ServicePassword"]), "wrongPassword")
    _ok(emu.check_password(CC, n["ServiceUserName"], n["ServicePassword"]), c)


def test_reset_via_cli_rotates_password(emu, iam, names):
    user, c = _new(iam, names, KS)
    n = aws(emu, "reset-service-specific-credential", "--user-name", user, "--service-specific-credential-id",
            c["ServiceSpecificCredentialId"]).json["ServiceSpecificCredential"]
    _refused(emu.check_password(KS, c["ServiceUserName"], c["ServicePassword"]), "wrongPassword")
    _ok(emu.check_password(KS, n["ServiceUserName"], n["ServicePassword"]), c)


def test_inactive_is_refused_and_reactivated(emu, iam, names):
    user, c = _new(iam, names, CC)
    cid = c["ServiceSpecificCredentialId"]
    iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid, Status="Inactive")
    _refused(emu.check_password(CC, c["ServiceUserName"], c["ServicePassword"]), "inactive")
    iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid, Status="Active")
    _ok(emu.check_password(CC, c["ServiceUserName"], c["ServicePassword"]), c)


def test_reset_of_inactive_stays_inactive(emu, iam, names):
    user, c = _new(iam, names, CC)
    cid = c["ServiceSpecificCredentialId"]
    iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid, Status="Inactive")
    n = iam.reset_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid)[
        "ServiceSpecificCredential"]
    assert n["Status"] == "Inactive"
    _refused(emu.check_password(CC, n["ServiceUserName"], n["ServicePassword"]), "inactive")
    _refused(emu.check_password(CC, c["ServiceUserName"], c["ServicePassword"]), "wrongPassword")
    iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid, Status="Active")
    _ok(emu.check_password(CC, n["ServiceUserName"], n["ServicePassword"]), c)


def test_deleted_credential_is_unknown(emu, iam, names):
    user, c = _new(iam, names, CC)
    iam.delete_service_specific_credential(UserName=user, ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])
    _refused(emu.check_password(CC, c["ServiceUserName"], c["ServicePassword"]), "unknown")


def test_check_api_key_secret(emu, iam, names):
    user, c = _new(iam, names, BR, CredentialAgeDays=30)
    _ok(emu.check_secret(BR, c["ServiceCredentialSecret"]), c)
    forged = "ABSK" + c["ServiceCredentialSecret"][4:-4] + "AAA="
    assert emu.check_secret(BR, forged)["valid"] is False
    _refused(emu.check_secret(BR, "ABSKbm90LWEta2V5"), "unknown")
    iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"],
                                           Status="Inactive")
    _refused(emu.check_secret(BR, c["ServiceCredentialSecret"]), "inactive")


def test_api_key_expires_with_clock(fresh):
    client = iam_client(fresh)
    client.create_user(UserName="exp")
    short = client.create_service_specific_credential(UserName="exp", ServiceName=BR, CredentialAgeDays=1)[
        "ServiceSpecificCredential"]
    long = client.create_service_specific_credential(UserName="exp", ServiceName=BR, CredentialAgeDays=3)[
        "ServiceSpecificCredential"]
    cc = client.create_service_specific_credential(UserName="exp", ServiceName=CC)["ServiceSpecificCredential"]

    def statuses():
        items = client.list_service_specific_credentials(UserName="exp")["ServiceSpecificCredentials"]
        return {i["ServiceSpecificCredentialId"]: i["Status"] for i in items}

    assert set(statuses().values()) == {"Active"}
    _ok(fresh.check_secret(BR, short["ServiceCredentialSecret"]), short)

    fresh.advance_clock(23 * 3600)
    assert statuses()[short["ServiceSpecificCredentialId"]] == "Active"
    _ok(fresh.check_secret(BR, short["ServiceCredentialSecret"]), short)

    fresh.advance_clock(2 * 3600)  # 25h after creation
    st = statuses()
    assert st[short["ServiceSpecificCredentialId"]] == "Expired"
    assert st[long["ServiceSpecificCredentialId"]] == "Active"
    assert st[cc["ServiceSpecificCredentialId"]] == "Active"  # password credentials never expire
    _refused(fresh.check_secret(BR, short["ServiceCredentialSecret"]), "expired")
    _ok(fresh.check_secret(BR, long["ServiceCredentialSecret"]), long)
    _ok(fresh.check_password(CC, cc["ServiceUserName"], cc["ServicePassword"]), cc)

    # the listing keeps the expiry date; the CLI sees the same
    items = aws(fresh, "list-service-specific-credentials", "--user-name", "exp", "--service-name", BR).json[
        "ServiceSpecificCredentials"]
    by_id = {i["ServiceSpecificCredentialId"]: i for i in items}
    assert by_id[short["ServiceSpecificCredentialId"]]["Status"] == "Expired"
    exp = dt.datetime.fromisoformat(by_id[short["ServiceSpecificCredentialId"]]["ExpirationDate"].replace("Z", "+00:00"))
    assert exp == short["ExpirationDate"]

    # it still holds its slot until deleted
    fresh.advance_clock(3 * 86400)
    assert set(statuses()[k] for k in (short["ServiceSpecificCredentialId"], long["ServiceSpecificCredentialId"])) == {
        "Expired"}
    with pytest.raises(client.exceptions.LimitExceededException):
        client.create_service_specific_credential(UserName="exp", ServiceName=BR)


def test_clock_moves_create_date(fresh):
    client = iam_client(fresh)
    fresh.advance_clock(10 * 86400)
    u = client.create_user(UserName="later")["User"]
    now = dt.datetime.now(dt.timezone.utc)
    delta = (u["CreateDate"] - now).total_seconds()
    assert 10 * 86400 - 120 < delta < 10 * 86400 + 120, delta
