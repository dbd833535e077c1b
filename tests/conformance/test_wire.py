"""The awsQuery wire format at the byte level (iam-api.md §6): what botocore forgives but other clients
(aws-sdk-iam) need, and request forms that boto3 never sends (GET, `%20`, `Tags=`, any parameter order).
Requests are signed with botocore's SigV4 signer, as a client would."""

import re
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import DUMMY_KEY, DUMMY_SECRET, REGION, iam_client

NS = "{https://iam.amazonaws.com/doc/2010-05-08/}"
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def send(e, body: str | None = None, *, method="POST", query: str = "",
         content_type="application/x-www-form-urlencoded"):
    url = e.url + "/" + (("?" + query) if query else "")
    headers = {"Content-Type": content_type} if body is not None else {}
    req = AWSRequest(method=method, url=url, data=(body or "").encode() if body is not None else None,
                     headers=headers)
    SigV4Auth(Credentials(DUMMY_KEY, DUMMY_SECRET), "iam", REGION).add_auth(req)
    prepared = req.prepare()
    raw = prepared.body if isinstance(prepared.body, (bytes, type(None))) else prepared.body.encode()
    status, hdrs, data = e.http(method, "/" + (("?" + query) if query else ""), raw=raw,
                                headers=dict(prepared.headers.items()))
    return status, hdrs, data


def local(tag: str) -> str:
    return tag.split("}", 1)[-1]


def parse_ok(status, hdrs, data, op):
    assert status == 200, (status, data[:800])
    assert hdrs.get("content-type", "").startswith("text/xml"), hdrs
    root = ET.fromstring(data)
    assert root.tag == f"{NS}{op}Response", root.tag
    children = list(root)
    return root, children


def test_success_envelope_order_and_request_id(emu):
    status, hdrs, data = send(emu, "Action=GetUser&Version=2010-05-08&UserName=caller")
    root, children = parse_ok(status, hdrs, data, "GetUser")
    # Rust's parser needs <OpResult> as the first child and ResponseMetadata after it
    assert [local(c.tag) for c in children] == ["GetUserResult", "ResponseMetadata"]
    rid = children[1].find(f"{NS}RequestId")
    assert rid is not None and rid.text
    assert hdrs.get("x-amzn-requestid") == rid.text
    user = children[0].find(f"{NS}User")
    for field in ("Path", "UserName", "UserId", "Arn", "CreateDate"):
        assert user.find(f"{NS}{field}") is not None, field
    assert TS.match(user.find(f"{NS}CreateDate").text), user.find(f"{NS}CreateDate").text


def test_no_output_operation_envelope(emu, names):
    user = names("w")
    c = iam_client(emu)
    c.create_user(UserName=user)
    status, hdrs, data = send(emu, f"Action=DeleteUser&Version=2010-05-08&UserName={user}")
    root, children = parse_ok(status, hdrs, data, "DeleteUser")
    assert [local(x.tag) for x in children] == ["ResponseMetadata"]
    assert hdrs.get("x-amzn-requestid")


def test_credential_xml_timestamps_and_required_members(emu, names):
    user = names("w")
    iam_client(emu).create_user(UserName=user)
    status, hdrs, data = send(emu, "Action=CreateServiceSpecificCredential&Version=2010-05-08"
                                   f"&UserName={user}&ServiceName=bedrock.amazonaws.com&CredentialAgeDays=30")
    _root, children = parse_ok(status, hdrs, data, "CreateServiceSpecificCredential")
    assert local(children[0].tag) == "CreateServiceSpecificCredentialResult"
    cred = children[0].find(f"{NS}ServiceSpecificCredential")
    for field in ("CreateDate", "ServiceName", "ServiceSpecificCredentialId", "UserName", "Status"):
        assert cred.find(f"{NS}{field}") is not None and cred.find(f"{NS}{field}").text, field
    assert TS.match(cred.find(f"{NS}CreateDate").text)
    assert TS.match(cred.find(f"{NS}ExpirationDate").text)

    status, hdrs, data = send(emu, f"Action=ListServiceSpecificCredentials&Version=2010-05-08&UserName={user}")
    _root, children = parse_ok(status, hdrs, data, "ListServiceSpecificCredentials")
    result = children[0]
    assert result.find(f"{NS}IsTruncated").text == "false"
    members = result.find(f"{NS}ServiceSpecificCredentials").findall(f"{NS}member")
    assert len(members) == 1
    for field in ("UserName", "Status", "CreateDate", "ServiceSpecificCredentialId", "ServiceName"):
        assert members[0].find(f"{NS}{field}") is not None, field


def test_empty_list_is_present(emu, names):
    user = names("w")
    iam_client(emu).create_user(UserName=user)
    status, hdrs, data = send(emu, f"Action=ListServiceSpecificCredentials&Version=2010-05-08&UserName={user}")
    _root, children = parse_ok(status, hdrs, data, "ListServiceSpecificCredentials")
    lst = children[0].find(f"{NS}ServiceSpecificCredentials")
    assert lst is not None and list(lst) == []


def test_error_envelope(emu):
    status, hdrs, data = send(emu, "Action=GetUser&Version=2010-05-08&UserName=nobody")
    assert status == 404
    root = ET.fromstring(data)
    assert root.tag == f"{NS}ErrorResponse", root.tag
    err = root.find(f"{NS}Error")
    assert err.find(f"{NS}Type").text == "Sender"
    assert err.find(f"{NS}Code").text == "NoSuchEntity"
    assert err.find(f"{NS}Message").text == "The user with name nobody cannot be found."
    rid = root.find(f"{NS}RequestId")
    assert rid is not None and rid.text
    assert hdrs.get("x-amzn-requestid") == rid.text


def test_get_with_query_string(emu):
    status, hdrs, data = send(emu, None, method="GET", query="Action=GetUser&Version=2010-05-08&UserName=caller")
    _root, children = parse_ok(status, hdrs, data, "GetUser")
    assert children[0].find(f"{NS}User/{NS}UserName").text == "caller"


def test_parameter_order_is_irrelevant(emu):
    status, hdrs, data = send(emu, "UserName=caller&Version=2010-05-08&Action=GetUser")
    _root, children = parse_ok(status, hdrs, data, "GetUser")
    assert children[0].find(f"{NS}User/{NS}UserName").text == "caller"


def test_rust_style_encoding(emu):
    # aws-sdk-iam: %20 for space, %2B for '+', %40 for '@', content type without charset
    name = "r+1@x.rust"
    body = ("Action=CreateUser&Version=2010-05-08&UserName=" + urllib.parse.quote(name, safe="")
            + "&Tags.member.1.Key=k&Tags.member.1.Value=" + urllib.parse.quote("v 1+2", safe=""))
    assert "%2B" in body and "%40" in body and "%20" in body
    status, hdrs, data = send(emu, body, content_type="application/x-www-form-urlencoded")
    parse_ok(status, hdrs, data, "CreateUser")
    u = iam_client(emu).get_user(UserName=name)["User"]
    assert u["UserName"] == name
    assert u.get("Tags") == [{"Key": "k", "Value": "v 1+2"}]


def test_plus_means_space(emu):
    # botocore style: '+' is a space, so this name is "a b" and fails the pattern
    status, _h, data = send(emu, "Action=CreateUser&Version=2010-05-08&UserName=a+b",
                            content_type="application/x-www-form-urlencoded; charset=utf-8")
    assert status == 400, data
    err = ET.fromstring(data).find(f"{NS}Error")
    assert err.find(f"{NS}Code").text == "ValidationError"


def test_empty_tags_list(emu, names):
    user = names("tags")
    status, hdrs, data = send(emu, f"Action=CreateUser&Version=2010-05-08&UserName={user}&Tags=")
    parse_ok(status, hdrs, data, "CreateUser")
    assert iam_client(emu).get_user(UserName=user)["User"].get("Tags", []) == []


def test_unknown_action(emu):
    status, _h, data = send(emu, "Action=FrobnicateUser&Version=2010-05-08")
    assert status == 400, data
    err = ET.fromstring(data).find(f"{NS}Error")
    assert err.find(f"{NS}Code").text == "InvalidAction"
    assert err.find(f"{NS}Type").text == "Sender"


@pytest.mark.parametrize("size", [5000, 16 * 1024])
def test_max_body_bytes(emulator_factory, size):
    # small enough to sit in the socket buffers, so the answer is read even if the server stops reading early
    e = emulator_factory(users=("caller",), extra=("--max-body-bytes", "4096"))
    status, _h, _data = send(e, "Action=GetUser&Version=2010-05-08&UserName=caller&Pad=" + "x" * size)
    assert status in (400, 413), status
    status, hdrs, data = send(e, "Action=GetUser&Version=2010-05-08&UserName=caller")
    parse_ok(status, hdrs, data, "GetUser")
