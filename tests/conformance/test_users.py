"""CreateUser / GetUser / ListUsers / DeleteUser through boto3 and the AWS CLI (iam-api.md §7)."""

import datetime as dt
import re

import pytest

from conftest import ACCOUNT, VALIDATION_PREFIX, assert_cli_error, aws, expect_error, iam_client

USER_ID = re.compile(r"^AIDA[A-Z0-9]{17}$")


def _check_user(u: dict, name: str, path: str = "/") -> None:
    assert u["UserName"] == name
    assert u["Path"] == path
    assert USER_ID.match(u["UserId"]), u["UserId"]
    assert u["Arn"] == f"arn:aws:iam::{ACCOUNT}:user{path}{name}"
    assert isinstance(u["CreateDate"], dt.datetime) and u["CreateDate"].tzinfo is not None


def _parse_cli_ts(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


# -- boto3 ----------------------------------------------------------------------------------


def test_create_get_delete_user_boto3(iam, names):
    name = names("alice")
    created = iam.create_user(UserName=name)["User"]
    _check_user(created, name)
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - created["CreateDate"]).total_seconds()) < 120

    got = iam.get_user(UserName=name)["User"]
    _check_user(got, name)
    assert got["UserId"] == created["UserId"]
    assert got["CreateDate"] == created["CreateDate"]

    resp = iam.delete_user(UserName=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert set(resp) == {"ResponseMetadata"}
    expect_error(iam, lambda: iam.get_user(UserName=name), code="NoSuchEntity", status=404,
                 message=f"The user with name {name} cannot be found.", exc="NoSuchEntityException")


def test_create_user_with_path_builds_arn(iam, names):
    name = names("pathy")
    u = iam.create_user(UserName=name, Path="/division/")["User"]
    _check_user(u, name, path="/division/")
    assert iam.get_user(UserName=name)["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/division/{name}"


def test_create_user_with_tags(iam, names):
    name = names("tagged")
    iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "a b+c"}, {"Key": "k2", "Value": ""}])
    u = iam.get_user(UserName=name)["User"]
    assert {t["Key"]: t["Value"] for t in u.get("Tags", [])} == {"team": "a b+c", "k2": ""}


def test_user_ids_are_unique(iam, names):
    ids = {iam.create_user(UserName=names("uid"))["User"]["UserId"] for _ in range(5)}
    assert len(ids) == 5


def test_get_user_without_name_returns_caller(iam):
    u = iam.get_user()["User"]
    _check_user(u, "caller")


def test_user_name_special_characters_round_trip(iam, names):
    # '+', '@', '=', ',', '.', '-' and '_' are all legal; '+' must not be decoded as a space.
    name = "a+b@c=d,e.f-g_" + names("x")[-6:].replace("-", "_")
    u = iam.create_user(UserName=name)["User"]
    assert u["UserName"] == name
    assert iam.get_user(UserName=name)["User"]["UserName"] == name
    listed = [x["UserName"] for x in _all_users(iam)]
    assert name in listed
    iam.delete_user(UserName=name)


def test_duplicate_user_is_conflict(iam, names):
    name = names("dup")
    iam.create_user(UserName=name)
    expect_error(iam, lambda: iam.create_user(UserName=name), code="EntityAlreadyExists", status=409,
                 message=f"User with name {name} already exists.", exc="EntityAlreadyExistsException")


def test_duplicate_user_is_case_insensitive(iam, names):
    lower = names("alice").lower()
    upper = lower.capitalize()
    assert upper != lower
    iam.create_user(UserName=lower)
    expect_error(iam, lambda: iam.create_user(UserName=upper), code="EntityAlreadyExists", status=409,
                 message=f"User with name {upper} already exists.", exc="EntityAlreadyExistsException")
    # the original keeps its spelling, and no second user appeared
    matching = [u["UserName"] for u in _all_users(iam) if u["UserName"].lower() == lower]
    assert matching == [lower]


def test_get_unknown_user(iam):
    expect_error(iam, lambda: iam.get_user(UserName="no-such-user"), code="NoSuchEntity", status=404,
                 message="The user with name no-such-user cannot be found.", exc="NoSuchEntityException")


def test_delete_unknown_user(iam):
    expect_error(iam, lambda: iam.delete_user(UserName="no-such-user"), code="NoSuchEntity", status=404,
                 message="The user with name no-such-user cannot be found.", exc="NoSuchEntityException")


def test_delete_user_with_credential_is_conflict(iam, names):
    name = names("holder")
    iam.create_user(UserName=name)
    cred = iam.create_service_specific_credential(UserName=name, ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredential"]
    expect_error(iam, lambda: iam.delete_user(UserName=name), code="DeleteConflict", status=409,
                 message="Cannot delete entity, must remove referenced objects first.",
                 exc="DeleteConflictException")
    iam.get_user(UserName=name)  # still there
    iam.delete_service_specific_credential(UserName=name,
                                           ServiceSpecificCredentialId=cred["ServiceSpecificCredentialId"])
    iam.delete_user(UserName=name)
    expect_error(iam, lambda: iam.get_user(UserName=name), code="NoSuchEntity", status=404,
                 exc="NoSuchEntityException")


def test_delete_user_with_api_key_is_conflict(iam, names):
    name = names("keyholder")
    iam.create_user(UserName=name)
    iam.create_service_specific_credential(UserName=name, ServiceName="bedrock.amazonaws.com")
    expect_error(iam, lambda: iam.delete_user(UserName=name), code="DeleteConflict", status=409,
                 message="Cannot delete entity, must remove referenced objects first.",
                 exc="DeleteConflictException")


@pytest.mark.parametrize("bad", ["a b", "alice!", "al/ice", "ali:ce", "é"])
def test_create_user_name_pattern(iam, bad):
    expect_error(iam, lambda: iam.create_user(UserName=bad), code="ValidationError", status=400,
                 message=VALIDATION_PREFIX + "Value at 'userName' failed to satisfy constraint: "
                 r"Member must satisfy regular expression pattern: [\w+=,.@-]+")


def test_create_user_name_too_long(iam):
    expect_error(iam, lambda: iam.create_user(UserName="a" * 65), code="ValidationError", status=400,
                 message=VALIDATION_PREFIX + "Value at 'userName' failed to satisfy constraint: "
                 "Member must have length less than or equal to 64")


def test_create_user_name_64_is_accepted(iam, names):
    name = (names("l") + "x" * 64)[:64]
    assert iam.create_user(UserName=name)["User"]["UserName"] == name


def test_get_user_name_limit_is_128(iam):
    # GetUser/DeleteUser use existingUserNameType (1-128): 65..128 chars is a valid name that does not exist
    expect_error(iam, lambda: iam.get_user(UserName="b" * 100), code="NoSuchEntity", status=404,
                 message=f"The user with name {'b' * 100} cannot be found.", exc="NoSuchEntityException")
    expect_error(iam, lambda: iam.get_user(UserName="b" * 129), code="ValidationError", status=400,
                 message=VALIDATION_PREFIX + "Value at 'userName' failed to satisfy constraint: "
                 "Member must have length less than or equal to 128")
    expect_error(iam, lambda: iam.delete_user(UserName="b" * 129), code="ValidationError", status=400,
                 message=VALIDATION_PREFIX + "Value at 'userName' failed to satisfy constraint: "
                 "Member must have length less than or equal to 128")


def test_create_user_missing_name_is_400(emu):
    # botocore would refuse locally; switch its validation off so the request reaches the server
    from botocore.exceptions import ClientError

    client = iam_client(emu, validate=False)
    with pytest.raises(ClientError) as ei:
        client.create_user()
    err = ei.value.response["Error"]
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Code"] in ("MissingParameter", "ValidationError"), err
    assert err["Type"] == "Sender"


# -- ListUsers ------------------------------------------------------------------------------


def _all_users(client) -> list[dict]:
    out, marker = [], None
    while True:
        kw = {"Marker": marker} if marker else {}
        page = client.list_users(MaxItems=1000, **kw)
        out += page["Users"]
        if not page.get("IsTruncated"):
            return out
        marker = page["Marker"]


def test_list_users_pagination_max_items(fresh):
    client = iam_client(fresh)
    created = [f"pager{i:02d}" for i in range(7)]
    for n in created:
        client.create_user(UserName=n)
    expected = set(created) | {"caller"}

    seen, marker, pages = [], None, 0
    while True:
        kw = {"Marker": marker} if marker else {}
        page = client.list_users(MaxItems=3, **kw)
        pages += 1
        assert len(page["Users"]) <= 3
        for u in page["Users"]:
            assert set(u) >= {"Path", "UserName", "UserId", "Arn", "CreateDate"}
            assert "Tags" not in u and "PermissionsBoundary" not in u
        seen += [u["UserName"] for u in page["Users"]]
        if page["IsTruncated"]:
            assert len(page["Users"]) == 3
            assert page["Marker"]
            marker = page["Marker"]
        else:
            assert "Marker" not in page
            break
        assert pages < 10
    assert pages == 3
    assert len(seen) == len(set(seen)) == 8
    assert set(seen) == expected


def test_list_users_default_not_truncated(fresh):
    client = iam_client(fresh)
    for i in range(3):
        client.create_user(UserName=f"d{i}")
    page = client.list_users()
    assert page["IsTruncated"] is False
    assert {u["UserName"] for u in page["Users"]} == {"caller", "d0", "d1", "d2"}


def test_list_users_boto3_paginator(fresh):
    client = iam_client(fresh)
    for i in range(5):
        client.create_user(UserName=f"p{i}")
    pages = list(client.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    names_ = [u["UserName"] for p in pages for u in p["Users"]]
    assert sorted(names_) == sorted(["caller", "p0", "p1", "p2", "p3", "p4"])


def test_list_users_path_prefix(fresh):
    client = iam_client(fresh)
    client.create_user(UserName="eng1", Path="/eng/")
    client.create_user(UserName="eng2", Path="/eng/team/")
    client.create_user(UserName="ops1", Path="/ops/")
    got = {u["UserName"] for u in client.list_users(PathPrefix="/eng/")["Users"]}
    assert got == {"eng1", "eng2"}


def test_list_users_max_items_out_of_range(emu):
    client = iam_client(emu, validate=False)
    for bad, msg in ((0, "Member must have value greater than or equal to 1"),
                     (1001, "Member must have value less than or equal to 1000")):
        expect_error(client, lambda: client.list_users(MaxItems=bad), code="ValidationError", status=400,
                     message=VALIDATION_PREFIX + f"Value at 'maxItems' failed to satisfy constraint: {msg}")


# -- AWS CLI --------------------------------------------------------------------------------


def test_cli_user_lifecycle(emu, names):
    name = names("cli")
    out = aws(emu, "create-user", "--user-name", name).json
    u = out["User"]
    assert u["UserName"] == name and u["Path"] == "/"
    assert USER_ID.match(u["UserId"])
    assert u["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    _parse_cli_ts(u["CreateDate"])

    got = aws(emu, "get-user", "--user-name", name).json["User"]
    assert got["UserId"] == u["UserId"]

    r = aws(emu, "delete-user", "--user-name", name)
    assert r.rc == 0 and r.stdout.strip() == "", r
    assert_cli_error(aws(emu, "get-user", "--user-name", name), "NoSuchEntity", "GetUser",
                     f"The user with name {name} cannot be found.")


def test_cli_get_user_without_name_is_caller(emu):
    assert aws(emu, "get-user").json["User"]["UserName"] == "caller"


def test_cli_list_users_follows_markers(fresh):
    client = iam_client(fresh)
    for i in range(5):
        client.create_user(UserName=f"c{i}")
    # --page-size makes the CLI send MaxItems=2 and follow Marker until IsTruncated=false
    users = aws(fresh, "list-users", "--page-size", "2").json["Users"]
    assert sorted(u["UserName"] for u in users) == ["c0", "c1", "c2", "c3", "c4", "caller"]

    first = aws(fresh, "list-users", "--max-items", "4").json
    assert len(first["Users"]) == 4 and first["NextToken"]
    rest = aws(fresh, "list-users", "--max-items", "4", "--starting-token", first["NextToken"]).json
    assert len(rest["Users"]) == 2 and "NextToken" not in rest
    assert sorted(u["UserName"] for u in first["Users"] + rest["Users"]) == ["c0", "c1", "c2", "c3", "c4", "caller"]


def test_cli_duplicate_user_case_insensitive(emu, names):
    lower = names("bob").lower()
    upper = lower.upper()
    assert aws(emu, "create-user", "--user-name", lower).rc == 0
    assert_cli_error(aws(emu, "create-user", "--user-name", upper), "EntityAlreadyExists", "CreateUser",
                     f"User with name {upper} already exists.")


def test_cli_user_name_pattern_violation(emu):
    r = aws(emu, "create-user", "--user-name", "bad name")
    assert_cli_error(r, "ValidationError", "CreateUser",
                     VALIDATION_PREFIX + "Value at 'userName' failed to satisfy constraint: "
                     r"Member must satisfy regular expression pattern: [\w+=,.@-]+")


def test_cli_user_name_too_long(emu):
    r = aws(emu, "create-user", "--user-name", "z" * 65)
    assert_cli_error(r, "ValidationError", "CreateUser",
                     VALIDATION_PREFIX + "Value at 'userName' failed to satisfy constraint: "
                     "Member must have length less than or equal to 64")


def test_cli_delete_user_with_credential(emu, names):
    name = names("clih")
    aws(emu, "create-user", "--user-name", name).json
    aws(emu, "create-service-specific-credential", "--user-name", name, "--service-name",
        "cassandra.amazonaws.com").json
    assert_cli_error(aws(emu, "delete-user", "--user-name", name), "DeleteConflict", "DeleteUser",
                     "Cannot delete entity, must remove referenced objects first.")
