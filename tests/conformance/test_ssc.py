"""The five service-specific-credential operations through boto3 and the AWS CLI: parsed results,
value formats (iam-api.md §3, §4, §8) and the AWS documentation examples."""

import base64
import datetime as dt
import re

import pytest

from conftest import ACCOUNT, aws, iam_client

CC = "codecommit.amazonaws.com"
KS = "cassandra.amazonaws.com"
BR = "bedrock.amazonaws.com"
PASSWORD_SERVICES = [CC, KS]

CRED_ID = re.compile(r"^ACCA[A-Z0-9]{17}$")
PASSWORD_FIELDS = {"CreateDate", "ServiceName", "ServicePassword", "ServiceSpecificCredentialId",
                   "ServiceUserName", "Status", "UserName"}
LIST_PASSWORD_FIELDS = PASSWORD_FIELDS - {"ServicePassword"}
SECRET_FIELDS = {"ServicePassword", "ServiceCredentialSecret"}


def check_password(pw: str) -> None:
    # 60 characters, as live IAM's (iam-api.md §14)
    assert len(pw) == 60, f"ServicePassword length {len(pw)}: {pw!r}"
    assert len(base64.b64decode(pw, validate=True)) == 45


def check_password_credential(c: dict, user: str, service: str, slot: int = 0) -> None:
    assert set(c) == PASSWORD_FIELDS, sorted(c)
    assert CRED_ID.match(c["ServiceSpecificCredentialId"]), c["ServiceSpecificCredentialId"]
    assert c["UserName"] == user
    assert c["ServiceName"] == service
    assert c["Status"] == "Active"
    suffix = "" if slot == 0 else "+1"
    assert c["ServiceUserName"] == f"{user}{suffix}-at-{ACCOUNT}"
    check_password(c["ServicePassword"])
    assert isinstance(c["CreateDate"], dt.datetime) and c["CreateDate"].tzinfo is not None


def check_api_key(c: dict, user: str, service: str = BR) -> None:
    assert "ServiceUserName" not in c and "ServicePassword" not in c, sorted(c)
    assert CRED_ID.match(c["ServiceSpecificCredentialId"])
    assert c["UserName"] == user and c["ServiceName"] == service and c["Status"] == "Active"
    alias = c["ServiceCredentialAlias"]
    assert re.fullmatch(r"[\w+=,.@-]+", alias) and len(alias) <= 200
    assert re.fullmatch(rf"{re.escape(user)}(\+1)?-at-{ACCOUNT}", alias), alias
    secret = c["ServiceCredentialSecret"]
    assert secret.startswith("ABSK"), secret[:8]
    inner = base64.b64decode(secret[4:], validate=True).decode()
    assert inner.startswith(alias + ":"), "ABSK secret must be base64('<alias>:<secret>')"
    assert len(inner) > len(alias) + 20


def new_user(client, names, prefix="u") -> str:
    name = names(prefix)
    client.create_user(UserName=name)
    return name


def create(client, user, service, **kw) -> dict:
    return client.create_service_specific_credential(UserName=user, ServiceName=service, **kw)[
        "ServiceSpecificCredential"]


def listing(client, **kw) -> list[dict]:
    resp = client.list_service_specific_credentials(**kw)
    for item in resp["ServiceSpecificCredentials"]:
        assert not (set(item) & SECRET_FIELDS), f"List returned secret material: {sorted(item)}"
    return resp["ServiceSpecificCredentials"]


# -- Create ---------------------------------------------------------------------------------


@pytest.mark.parametrize("service", PASSWORD_SERVICES)
def test_create_password_credential(iam, names, service):
    user = new_user(iam, names)
    c = create(iam, user, service)
    check_password_credential(c, user, service)
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - c["CreateDate"]).total_seconds()) < 120


@pytest.mark.parametrize("service", PASSWORD_SERVICES)
def test_second_credential_gets_plus1_and_freed_slot_is_reused(iam, names, service):
    user = new_user(iam, names)
    first = create(iam, user, service)
    second = create(iam, user, service)
    check_password_credential(first, user, service, slot=0)
    check_password_credential(second, user, service, slot=1)
    assert first["ServiceSpecificCredentialId"] != second["ServiceSpecificCredentialId"]
    assert first["ServicePassword"] != second["ServicePassword"]

    # free the first slot: the next credential takes "-at-" again, not "+1"/"+2"
    iam.delete_service_specific_credential(UserName=user,
                                           ServiceSpecificCredentialId=first["ServiceSpecificCredentialId"])
    third = create(iam, user, service)
    check_password_credential(third, user, service, slot=0)
    assert third["ServiceSpecificCredentialId"] not in (first["ServiceSpecificCredentialId"],
                                                        second["ServiceSpecificCredentialId"])
    # free the "+1" slot: the next one takes "+1" again
    iam.delete_service_specific_credential(UserName=user,
                                           ServiceSpecificCredentialId=second["ServiceSpecificCredentialId"])
    fourth = create(iam, user, service)
    check_password_credential(fourth, user, service, slot=1)
    got = {c["ServiceUserName"] for c in listing(iam, UserName=user, ServiceName=service)}
    assert got == {f"{user}-at-{ACCOUNT}", f"{user}+1-at-{ACCOUNT}"}


def test_slots_are_per_service(iam, names):
    user = new_user(iam, names)
    cc = create(iam, user, CC)
    ks = create(iam, user, KS)
    # each service starts at the "-at-" slot
    assert cc["ServiceUserName"] == ks["ServiceUserName"] == f"{user}-at-{ACCOUNT}"


def test_limit_is_two_per_service(iam, names):
    user = new_user(iam, names)
    for service in (CC, KS, BR):
        create(iam, user, service)
        create(iam, user, service)
    items = listing(iam, UserName=user)
    assert len(items) == 6
    assert sorted(i["ServiceName"] for i in items) == sorted([CC, CC, KS, KS, BR, BR])


def test_credential_ids_and_passwords_are_unique(iam, names):
    ids, pws = set(), set()
    for _ in range(3):
        user = new_user(iam, names)
        for service in PASSWORD_SERVICES:
            for _slot in range(2):
                c = create(iam, user, service)
                ids.add(c["ServiceSpecificCredentialId"])
                pws.add(c["ServicePassword"])
    assert len(ids) == 12 and len(pws) == 12


def test_bedrock_api_key_with_age(iam, names):
    user = new_user(iam, names, "bedrock-api-user")
    c = create(iam, user, BR, CredentialAgeDays=30)
    assert set(c) == {"CreateDate", "ExpirationDate", "ServiceName", "ServiceCredentialAlias",
                      "ServiceCredentialSecret", "ServiceSpecificCredentialId", "Status", "UserName"}, sorted(c)
    check_api_key(c, user)
    assert c["ServiceCredentialAlias"] == f"{user}-at-{ACCOUNT}"
    assert c["ExpirationDate"] - c["CreateDate"] == dt.timedelta(days=30)


def test_bedrock_api_key_without_age_never_expires(iam, names):
    user = new_user(iam, names)
    c = create(iam, user, BR)
    check_api_key(c, user)
    assert "ExpirationDate" not in c
    [item] = listing(iam, UserName=user, ServiceName=BR)
    assert "ExpirationDate" not in item


@pytest.mark.parametrize("days", [1, 36600])
def test_credential_age_days_bounds_accepted(iam, names, days):
    user = new_user(iam, names)
    c = create(iam, user, BR, CredentialAgeDays=days)
    assert c["ExpirationDate"] - c["CreateDate"] == dt.timedelta(days=days)


def test_second_bedrock_key(iam, names):
    user = new_user(iam, names)
    a = create(iam, user, BR)
    b = create(iam, user, BR)
    check_api_key(a, user)
    check_api_key(b, user)
    assert a["ServiceCredentialSecret"] != b["ServiceCredentialSecret"]
    assert a["ServiceSpecificCredentialId"] != b["ServiceSpecificCredentialId"]


@pytest.mark.parametrize("service", ["logs.amazonaws.com", "cloudwatch.amazonaws.com",
                                     "aws-external-anthropic.amazonaws.com"])
def test_other_api_key_services(iam, names, service):
    user = new_user(iam, names)
    c = create(iam, user, service, CredentialAgeDays=7)
    assert "ServiceUserName" not in c and "ServicePassword" not in c
    assert c["ServiceName"] == service
    assert c["ServiceCredentialAlias"] and c["ServiceCredentialSecret"]
    assert c["ExpirationDate"] - c["CreateDate"] == dt.timedelta(days=7)
    [item] = listing(iam, UserName=user, ServiceName=service)
    assert item["ServiceCredentialAlias"] == c["ServiceCredentialAlias"]


# -- List -----------------------------------------------------------------------------------


def test_list_shapes_and_filters(iam, names):
    user = new_user(iam, names)
    cc = create(iam, user, CC)
    ks = create(iam, user, KS)
    br = create(iam, user, BR, CredentialAgeDays=30)

    resp = iam.list_service_specific_credentials(UserName=user)
    assert resp["IsTruncated"] is False
    assert "Marker" not in resp
    items = {i["ServiceSpecificCredentialId"]: i for i in resp["ServiceSpecificCredentials"]}
    assert set(items) == {cc["ServiceSpecificCredentialId"], ks["ServiceSpecificCredentialId"],
                          br["ServiceSpecificCredentialId"]}
    for src in (cc, ks):
        item = items[src["ServiceSpecificCredentialId"]]
        assert set(item) == LIST_PASSWORD_FIELDS, sorted(item)
        for k in LIST_PASSWORD_FIELDS:
            assert item[k] == src[k], k
    bitem = items[br["ServiceSpecificCredentialId"]]
    assert not (set(bitem) & {"ServiceCredentialSecret", "ServicePassword", "ServiceUserName"}), sorted(bitem)
    for k in ("UserName", "Status", "ServiceCredentialAlias", "CreateDate", "ExpirationDate", "ServiceName"):
        assert bitem[k] == br[k], k

    only_cc = listing(iam, UserName=user, ServiceName=CC)
    assert [i["ServiceSpecificCredentialId"] for i in only_cc] == [cc["ServiceSpecificCredentialId"]]
    only_br = listing(iam, UserName=user, ServiceName=BR)
    assert [i["ServiceSpecificCredentialId"] for i in only_br] == [br["ServiceSpecificCredentialId"]]


def test_list_empty_for_service_without_credentials(iam, names):
    user = new_user(iam, names)
    create(iam, user, CC)
    resp = iam.list_service_specific_credentials(UserName=user, ServiceName=KS)
    assert resp["ServiceSpecificCredentials"] == []
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["IsTruncated"] is False


def test_list_user_without_credentials(iam, names):
    user = new_user(iam, names)
    assert listing(iam, UserName=user) == []


def test_list_only_that_users_credentials(iam, names):
    a, b = new_user(iam, names), new_user(iam, names)
    ca = create(iam, a, CC)
    create(iam, b, CC)
    items = listing(iam, UserName=a)
    assert [i["ServiceSpecificCredentialId"] for i in items] == [ca["ServiceSpecificCredentialId"]]
    assert all(i["UserName"] == a for i in items)


def test_list_pagination_marker_max_items(iam, names):
    user = new_user(iam, names)
    ids = set()
    for service in (CC, KS, BR):
        for _ in range(2):
            ids.add(create(iam, user, service)["ServiceSpecificCredentialId"])
    p1 = iam.list_service_specific_credentials(UserName=user, MaxItems=4)
    assert len(p1["ServiceSpecificCredentials"]) == 4
    assert p1["IsTruncated"] is True
    assert p1["Marker"]
    p2 = iam.list_service_specific_credentials(UserName=user, MaxItems=4, Marker=p1["Marker"])
    assert len(p2["ServiceSpecificCredentials"]) == 2
    assert p2["IsTruncated"] is False
    assert "Marker" not in p2
    got = [i["ServiceSpecificCredentialId"] for p in (p1, p2) for i in p["ServiceSpecificCredentials"]]
    assert len(got) == len(set(got)) == 6 and set(got) == ids

    # walking one at a time visits everything exactly once
    seen, marker = [], None
    for _ in range(10):
        kw = {"Marker": marker} if marker else {}
        p = iam.list_service_specific_credentials(UserName=user, MaxItems=1, **kw)
        seen += [i["ServiceSpecificCredentialId"] for i in p["ServiceSpecificCredentials"]]
        if not p["IsTruncated"]:
            break
        marker = p["Marker"]
    assert sorted(seen) == sorted(ids)

    # exactly MaxItems items left: not truncated
    p = iam.list_service_specific_credentials(UserName=user, MaxItems=6)
    assert len(p["ServiceSpecificCredentials"]) == 6 and p["IsTruncated"] is False


def test_list_pagination_with_service_filter(iam, names):
    user = new_user(iam, names)
    ks_ids = {create(iam, user, KS)["ServiceSpecificCredentialId"] for _ in range(2)}
    create(iam, user, CC)
    p1 = iam.list_service_specific_credentials(UserName=user, ServiceName=KS, MaxItems=1)
    assert p1["IsTruncated"] is True and len(p1["ServiceSpecificCredentials"]) == 1
    p2 = iam.list_service_specific_credentials(UserName=user, ServiceName=KS, MaxItems=1, Marker=p1["Marker"])
    assert p2["IsTruncated"] is False
    got = {i["ServiceSpecificCredentialId"] for p in (p1, p2) for i in p["ServiceSpecificCredentials"]}
    assert got == ks_ids


def test_list_all_users(fresh):
    client = iam_client(fresh)
    for u in ("ann", "ben", "cid"):
        client.create_user(UserName=u)
    want = {create(client, "ann", CC)["ServiceSpecificCredentialId"],
            create(client, "ann", CC)["ServiceSpecificCredentialId"],
            create(client, "ben", CC)["ServiceSpecificCredentialId"]}
    create(client, "cid", KS)
    create(client, "ben", BR)
    resp = client.list_service_specific_credentials(AllUsers=True, ServiceName=CC)
    items = resp["ServiceSpecificCredentials"]
    assert {i["ServiceSpecificCredentialId"] for i in items} == want
    assert sorted(i["UserName"] for i in items) == ["ann", "ann", "ben"]
    assert all(i["ServiceName"] == CC for i in items)
    for i in items:
        assert not (set(i) & SECRET_FIELDS)

    # paginated
    seen, marker = [], None
    for _ in range(10):
        kw = {"Marker": marker} if marker else {}
        p = client.list_service_specific_credentials(AllUsers=True, ServiceName=CC, MaxItems=2, **kw)
        assert len(p["ServiceSpecificCredentials"]) <= 2
        seen += [i["ServiceSpecificCredentialId"] for i in p["ServiceSpecificCredentials"]]
        if not p["IsTruncated"]:
            break
        marker = p["Marker"]
    assert sorted(seen) == sorted(want)

    ks = listing(client, AllUsers=True, ServiceName=KS)
    assert [i["UserName"] for i in ks] == ["cid"]


def test_list_all_users_false_is_caller(fresh):
    client = iam_client(fresh)
    client.create_user(UserName="other")
    mine = create(client, "caller", CC)
    create(client, "other", CC)
    items = listing(client, AllUsers=False, ServiceName=CC)
    assert [i["ServiceSpecificCredentialId"] for i in items] == [mine["ServiceSpecificCredentialId"]]


def test_list_without_user_name_is_caller(fresh):
    client = iam_client(fresh)
    client.create_user(UserName="someone")
    mine = create(client, "caller", KS)
    create(client, "someone", KS)
    items = listing(client)
    assert [i["ServiceSpecificCredentialId"] for i in items] == [mine["ServiceSpecificCredentialId"]]
    assert items[0]["UserName"] == "caller"


# -- Reset / Update / Delete ----------------------------------------------------------------


@pytest.mark.parametrize("service", PASSWORD_SERVICES)
def test_reset_returns_new_password_and_keeps_the_rest(iam, names, service):
    user = new_user(iam, names)
    create(iam, user, service)
    c = create(iam, user, service)  # the "+1" one
    r = iam.reset_service_specific_credential(UserName=user,
                                              ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])
    n = r["ServiceSpecificCredential"]
    assert set(n) == PASSWORD_FIELDS
    check_password(n["ServicePassword"])
    assert n["ServicePassword"] != c["ServicePassword"]
    for k in ("ServiceSpecificCredentialId", "ServiceUserName", "UserName", "ServiceName", "CreateDate", "Status"):
        assert n[k] == c[k], k
    assert n["ServiceUserName"] == f"{user}+1-at-{ACCOUNT}"


def test_reset_without_user_name_uses_caller(fresh):
    client = iam_client(fresh)
    c = create(client, "caller", CC)
    n = client.reset_service_specific_credential(ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])[
        "ServiceSpecificCredential"]
    assert n["UserName"] == "caller"
    assert n["ServicePassword"] != c["ServicePassword"]


def test_update_status_round_trip(iam, names):
    user = new_user(iam, names)
    c = create(iam, user, CC)
    cid = c["ServiceSpecificCredentialId"]
    resp = iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid, Status="Inactive")
    assert set(resp) == {"ResponseMetadata"} and resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    [item] = listing(iam, UserName=user)
    assert item["Status"] == "Inactive"
    # idempotent
    iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid, Status="Inactive")
    iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid, Status="Active")
    [item] = listing(iam, UserName=user)
    assert item["Status"] == "Active"


def test_inactive_stays_inactive_after_reset(iam, names):
    user = new_user(iam, names)
    c = create(iam, user, KS)
    cid = c["ServiceSpecificCredentialId"]
    iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid, Status="Inactive")
    n = iam.reset_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid)[
        "ServiceSpecificCredential"]
    assert n["Status"] == "Inactive"
    assert n["ServicePassword"] != c["ServicePassword"]
    [item] = listing(iam, UserName=user)
    assert item["Status"] == "Inactive"


def test_update_without_user_name_uses_caller(fresh):
    client = iam_client(fresh)
    c = create(client, "caller", KS)
    client.update_service_specific_credential(ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"],
                                              Status="Inactive")
    assert listing(client, UserName="caller")[0]["Status"] == "Inactive"


def test_delete_credential(iam, names):
    user = new_user(iam, names)
    a = create(iam, user, CC)
    b = create(iam, user, CC)
    resp = iam.delete_service_specific_credential(UserName=user,
                                                  ServiceSpecificCredentialId=a["ServiceSpecificCredentialId"])
    assert set(resp) == {"ResponseMetadata"} and resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [i["ServiceSpecificCredentialId"] for i in listing(iam, UserName=user)] == [
        b["ServiceSpecificCredentialId"]]
    # a slot was freed, so a new one fits under the limit again
    create(iam, user, CC)


def test_delete_without_user_name_uses_caller(fresh):
    client = iam_client(fresh)
    c = create(client, "caller", BR)
    client.delete_service_specific_credential(ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])
    assert listing(client, UserName="caller") == []


def test_request_id_header_matches_body(iam):
    resp = iam.list_users()
    meta = resp["ResponseMetadata"]
    assert meta["RequestId"]
    assert meta["HTTPHeaders"].get("x-amzn-requestid") == meta["RequestId"]
    assert meta["HTTPHeaders"].get("content-type", "").startswith("text/xml")


# -- AWS CLI --------------------------------------------------------------------------------


def test_cli_docs_example_sofia_create(emu):
    # aws iam create-service-specific-credential --user-name sofia --service-name codecommit.amazonaws.com
    iam_client(emu).create_user(UserName="sofia")
    out = aws(emu, "create-service-specific-credential", "--user-name", "sofia",
              "--service-name", "codecommit.amazonaws.com").json
    c = out["ServiceSpecificCredential"]
    assert set(c) == PASSWORD_FIELDS
    assert c["UserName"] == "sofia"
    assert c["ServiceName"] == "codecommit.amazonaws.com"
    assert c["ServiceUserName"] == "sofia-at-123456789012"
    assert c["Status"] == "Active"
    assert CRED_ID.match(c["ServiceSpecificCredentialId"])
    check_password(c["ServicePassword"])
    assert dt.datetime.fromisoformat(c["CreateDate"].replace("Z", "+00:00")).tzinfo is not None


def test_cli_docs_example_developer_list(emu):
    # aws iam list-service-specific-credentials --user-name developer --service-name codecommit.amazonaws.com
    iam_client(emu).create_user(UserName="developer")
    ids = []
    for _ in range(2):
        ids.append(aws(emu, "create-service-specific-credential", "--user-name", "developer",
                       "--service-name", "codecommit.amazonaws.com").json["ServiceSpecificCredential"][
                           "ServiceSpecificCredentialId"])
    out = aws(emu, "list-service-specific-credentials", "--user-name", "developer",
              "--service-name", "codecommit.amazonaws.com").json
    items = out["ServiceSpecificCredentials"]
    assert len(items) == 2
    assert out.get("IsTruncated") is False
    by_name = {i["ServiceUserName"]: i for i in items}
    assert set(by_name) == {"developer-at-123456789012", "developer+1-at-123456789012"}
    for i in items:
        assert set(i) == LIST_PASSWORD_FIELDS
        assert i["UserName"] == "developer" and i["Status"] == "Active"
        assert i["ServiceName"] == "codecommit.amazonaws.com"
    assert sorted(i["ServiceSpecificCredentialId"] for i in items) == sorted(ids)


def test_cli_keyspaces(emu, names):
    user = names("alice")
    aws(emu, "create-user", "--user-name", user).json
    c = aws(emu, "create-service-specific-credential", "--user-name", user,
            "--service-name", "cassandra.amazonaws.com").json["ServiceSpecificCredential"]
    assert c["ServiceName"] == "cassandra.amazonaws.com"
    assert c["ServiceUserName"] == f"{user}-at-{ACCOUNT}"
    check_password(c["ServicePassword"])


def test_cli_bedrock_api_key(emu, names):
    user = names("bedrock-api-user")
    aws(emu, "create-user", "--user-name", user).json
    c = aws(emu, "create-service-specific-credential", "--user-name", user,
            "--service-name", "bedrock.amazonaws.com", "--credential-age-days", "30").json[
                "ServiceSpecificCredential"]
    assert "ServicePassword" not in c and "ServiceUserName" not in c
    assert c["ServiceCredentialAlias"] == f"{user}-at-{ACCOUNT}"
    assert c["ServiceCredentialSecret"].startswith("ABSK")
    created = dt.datetime.fromisoformat(c["CreateDate"].replace("Z", "+00:00"))
    expires = dt.datetime.fromisoformat(c["ExpirationDate"].replace("Z", "+00:00"))
    assert expires - created == dt.timedelta(days=30)
    items = aws(emu, "list-service-specific-credentials", "--user-name", user).json["ServiceSpecificCredentials"]
    assert len(items) == 1
    assert "ServiceCredentialSecret" not in items[0]
    assert items[0]["ServiceCredentialAlias"] == c["ServiceCredentialAlias"]
    assert items[0]["ExpirationDate"] == c["ExpirationDate"]


def test_cli_reset_update_delete(emu, names):
    user = names("ops")
    aws(emu, "create-user", "--user-name", user).json
    c = aws(emu, "create-service-specific-credential", "--user-name", user,
            "--service-name", CC).json["ServiceSpecificCredential"]
    cid = c["ServiceSpecificCredentialId"]

    n = aws(emu, "reset-service-specific-credential", "--user-name", user,
            "--service-specific-credential-id", cid).json["ServiceSpecificCredential"]
    assert n["ServiceSpecificCredentialId"] == cid
    check_password(n["ServicePassword"])
    assert n["ServicePassword"] != c["ServicePassword"]

    r = aws(emu, "update-service-specific-credential", "--user-name", user,
            "--service-specific-credential-id", cid, "--status", "Inactive")
    assert r.rc == 0 and r.stdout.strip() == "", r
    items = aws(emu, "list-service-specific-credentials", "--user-name", user).json["ServiceSpecificCredentials"]
    assert [(i["ServiceSpecificCredentialId"], i["Status"]) for i in items] == [(cid, "Inactive")]

    r = aws(emu, "delete-service-specific-credential", "--user-name", user,
            "--service-specific-credential-id", cid)
    assert r.rc == 0 and r.stdout.strip() == "", r
    out = aws(emu, "list-service-specific-credentials", "--user-name", user).json
    assert out["ServiceSpecificCredentials"] == []


def test_cli_list_max_items_is_api_max_items(emu, names):
    # CLI v1 passes --max-items through as MaxItems (no paginator), so Marker/IsTruncated show up
    user = names("pg")
    iam = iam_client(emu)
    iam.create_user(UserName=user)
    ids = {create(iam, user, s)["ServiceSpecificCredentialId"] for s in (CC, CC, KS)}
    p1 = aws(emu, "list-service-specific-credentials", "--user-name", user, "--max-items", "2").json
    assert len(p1["ServiceSpecificCredentials"]) == 2
    assert p1["IsTruncated"] is True and p1["Marker"]
    p2 = aws(emu, "list-service-specific-credentials", "--user-name", user, "--max-items", "2",
             "--marker", p1["Marker"]).json
    assert len(p2["ServiceSpecificCredentials"]) == 1 and p2["IsTruncated"] is False
    got = {i["ServiceSpecificCredentialId"] for p in (p1, p2) for i in p["ServiceSpecificCredentials"]}
    assert got == ids


def test_cli_list_all_users(fresh):
    client = iam_client(fresh)
    for u in ("xa", "xb"):
        client.create_user(UserName=u)
        create(client, u, KS)
    out = aws(fresh, "list-service-specific-credentials", "--all-users", "--service-name", KS).json
    assert sorted(i["UserName"] for i in out["ServiceSpecificCredentials"]) == ["xa", "xb"]


def test_cli_list_without_user_name_is_caller(fresh):
    client = iam_client(fresh)
    create(client, "caller", CC)
    items = aws(fresh, "list-service-specific-credentials").json["ServiceSpecificCredentials"]
    assert [i["UserName"] for i in items] == ["caller"]
