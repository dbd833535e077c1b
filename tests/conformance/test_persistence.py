"""`--state-file`: users, credentials, statuses and working passwords survive a SIGTERM restart and a SIGKILL; the
file is a private SQLite database; an old JSON state file is migrated into one."""

import json
import shutil
import sqlite3
import stat
from pathlib import Path

from conftest import aws, iam_client

FIXTURE = Path(__file__).resolve().parents[1] / "emulator" / "fixtures" / "state-v1.json"

CC = "codecommit.amazonaws.com"
KS = "cassandra.amazonaws.com"
BR = "bedrock.amazonaws.com"


def _snapshot(client):
    users = {u["UserName"]: u for u in client.list_users()["Users"]}
    creds = {}
    for name in users:
        for i in client.list_service_specific_credentials(UserName=name)["ServiceSpecificCredentials"]:
            creds[i["ServiceSpecificCredentialId"]] = i
    return users, creds


def test_state_survives_restart(emulator_factory, tmp_path):
    state = tmp_path / "state" / "iam.json"
    state.parent.mkdir()
    e = emulator_factory(users=("seed",), state_file=state)
    client = iam_client(e)
    client.create_user(UserName="keeper", Path="/team/")
    cc1 = client.create_service_specific_credential(UserName="keeper", ServiceName=CC)["ServiceSpecificCredential"]
    cc2 = client.create_service_specific_credential(UserName="keeper", ServiceName=CC)["ServiceSpecificCredential"]
    ks = client.create_service_specific_credential(UserName="keeper", ServiceName=KS)["ServiceSpecificCredential"]
    br = client.create_service_specific_credential(UserName="keeper", ServiceName=BR, CredentialAgeDays=30)[
        "ServiceSpecificCredential"]
    client.update_service_specific_credential(UserName="keeper", ServiceSpecificCredentialId=ks[
        "ServiceSpecificCredentialId"], Status="Inactive")
    # reset after create: only the newest password may work after the restart
    cc1_new = client.reset_service_specific_credential(UserName="keeper", ServiceSpecificCredentialId=cc1[
        "ServiceSpecificCredentialId"])["ServiceSpecificCredential"]
    client.create_user(UserName="gone")
    client.delete_user(UserName="gone")
    before_users, before_creds = _snapshot(client)

    rc = e.stop()
    assert rc == 0, f"emulator exit code after SIGTERM: {rc}\n{e.log_tail()}"
    assert state.exists() and state.stat().st_size > 0
    # no temporary files left beside it (atomic write finished)
    leftovers = [p.name for p in state.parent.iterdir() if p.name != state.name and "tmp" in p.name.lower()]
    assert leftovers == []

    e.start()
    client = iam_client(e)
    after_users, after_creds = _snapshot(client)
    assert after_users == before_users
    assert after_creds == before_creds
    assert "gone" not in after_users
    assert after_users["keeper"]["Arn"] == "arn:aws:iam::123456789012:user/team/keeper"
    assert after_creds[ks["ServiceSpecificCredentialId"]]["Status"] == "Inactive"

    check = e.check_password(CC, cc1["ServiceUserName"], cc1_new["ServicePassword"])
    assert check["valid"] is True and check["credentialId"] == cc1["ServiceSpecificCredentialId"], check
    assert e.check_password(CC, cc1["ServiceUserName"], cc1["ServicePassword"])["reason"] == "wrongPassword"
    assert e.check_password(CC, cc2["ServiceUserName"], cc2["ServicePassword"])["valid"] is True
    assert e.check_password(KS, ks["ServiceUserName"], ks["ServicePassword"])["reason"] == "inactive"
    assert e.check_secret(BR, br["ServiceCredentialSecret"])["valid"] is True

    # the quota and slot naming continue from the stored state
    with_limit = None
    try:
        client.create_service_specific_credential(UserName="keeper", ServiceName=CC)
    except client.exceptions.LimitExceededException as exc:
        with_limit = exc
    assert with_limit is not None
    client.delete_service_specific_credential(UserName="keeper", ServiceSpecificCredentialId=cc2[
        "ServiceSpecificCredentialId"])
    again = client.create_service_specific_credential(UserName="keeper", ServiceName=CC)["ServiceSpecificCredential"]
    assert again["ServiceUserName"] == "keeper+1-at-123456789012"
    assert again["ServiceSpecificCredentialId"] not in before_creds


def test_seed_users_and_cli_changes_survive_restart(emulator_factory, tmp_path):
    """The state survives changes made through the CLI too, and the seed users are not duplicated or
    reset on restart."""
    state = tmp_path / "iam-state.json"
    e = emulator_factory(users=("alice",), state_file=state)
    created = iam_client(e).get_user(UserName="alice")["User"]
    c = aws(e, "create-service-specific-credential", "--user-name", "alice", "--service-name", CC).json[
        "ServiceSpecificCredential"]
    assert e.stop() == 0
    e.start()
    client = iam_client(e)
    after = client.get_user(UserName="alice")["User"]
    assert after["UserId"] == created["UserId"] and after["CreateDate"] == created["CreateDate"]
    assert [u["UserName"] for u in client.list_users()["Users"]] == ["alice"]
    items = aws(e, "list-service-specific-credentials", "--user-name", "alice").json["ServiceSpecificCredentials"]
    assert [i["ServiceSpecificCredentialId"] for i in items] == [c["ServiceSpecificCredentialId"]]
    assert e.check_password(CC, c["ServiceUserName"], c["ServicePassword"])["valid"] is True


def test_without_state_file_nothing_survives(emulator_factory):
    e = emulator_factory(users=("alice",))
    iam_client(e).create_user(UserName="ephemeral")
    e.stop()
    e.start()
    names = [u["UserName"] for u in iam_client(e).list_users()["Users"]]
    assert names == ["alice"]


def test_state_written_before_answering(emulator_factory, tmp_path):
    """Each change is on disk when the call returns (a hard kill loses nothing acknowledged)."""
    state = tmp_path / "s.json"
    e = emulator_factory(users=("alice",), state_file=state)
    c = iam_client(e).create_service_specific_credential(UserName="alice", ServiceName=KS)[
        "ServiceSpecificCredential"]
    e.proc.kill()  # SIGKILL: no chance to flush on shutdown
    e.proc.wait(10)
    e.proc = None
    e.start()
    items = iam_client(e).list_service_specific_credentials(UserName="alice")["ServiceSpecificCredentials"]
    assert [i["ServiceSpecificCredentialId"] for i in items] == [c["ServiceSpecificCredentialId"]]
    assert e.check_password(KS, c["ServiceUserName"], c["ServicePassword"])["valid"] is True


def _kill(e):
    e.proc.kill()  # SIGKILL
    e.proc.wait(10)
    e.proc = None


def test_state_file_is_a_private_sqlite_database(emulator_factory, tmp_path):
    """Read with Python's own sqlite3 after a SIGKILL: whole, WAL, mode 0600, one row per entity, digests only."""
    state = tmp_path / "state.db"
    e = emulator_factory(users=("alice",), state_file=state)
    c = iam_client(e).create_service_specific_credential(UserName="alice", ServiceName=CC)[
        "ServiceSpecificCredential"]
    _kill(e)
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        meta = dict(db.execute("SELECT key, value FROM meta"))
        assert meta["format_version"] == "2" and meta["account_id"] == "123456789012"
        users = dict(db.execute("SELECT key, value FROM users"))
        assert list(users) == ["alice"]
        creds = dict(db.execute("SELECT key, value FROM credentials"))
        stored = json.loads(creds[c["ServiceSpecificCredentialId"]])
        assert stored["userKey"] == "alice" and stored["status"] == "Active"
    finally:
        db.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*"))
    assert c["ServicePassword"].encode() not in raw


def test_old_json_state_file_is_migrated(emulator_factory, tmp_path):
    """A format-1 JSON file under --state-file becomes a SQLite database with everything in it; the JSON is kept."""
    state = tmp_path / "state.json"
    shutil.copy(FIXTURE, state)
    e = emulator_factory(users=(), state_file=state)
    assert "migrated the JSON state file" in e.log_tail()
    assert state.read_bytes().startswith(b"SQLite format 3\0")
    backup = tmp_path / "state.json.v1.json.bak"
    assert backup.read_bytes() == FIXTURE.read_bytes()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    client = iam_client(e)
    items = client.list_service_specific_credentials(UserName="dev")["ServiceSpecificCredentials"]
    assert [(i["ServiceSpecificCredentialId"], i["Status"]) for i in items] == [
        ("ACCAQAAAAAAAAAAAAAAC1", "Active"), ("ACCAQAAAAAAAAAAAAAAC2", "Inactive"), ("ACCAQAAAAAAAAAAAAAAC4", "Active")]
    assert e.check_password(CC, "dev-at-123456789012", "fixture-codecommit-password-1")["valid"] is True
    assert client.get_role(RoleName="Deployer")["Role"]["MaxSessionDuration"] == 7200
    # A restart reads the database; nothing is migrated again.
    assert e.stop() == 0
    e.start()
    assert [u["UserName"] for u in iam_client(e).list_users()["Users"]] == ["dev", "Ops"]
