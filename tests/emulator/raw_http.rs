//! Malformed and unusual input over raw HTTP: always an AWS-shaped XML answer, never a hang or a panic.

use crate::support::*;

#[tokio::test]
async fn success_shape_and_headers() {
    let h = start(&["alice"]).await;
    let r = post_form(&h, "Action=GetUser&Version=2010-05-08&UserName=alice").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, "text/xml");
    assert!(r.body.contains(
        "<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetUserResult><User>"
    ));
    let result = r.body.find("</GetUserResult>").unwrap();
    let meta = r.body.find("<ResponseMetadata>").unwrap();
    assert!(result < meta, "Result before ResponseMetadata");
    assert_eq!(
        between(&r.body, "<RequestId>", "</RequestId>"),
        r.request_id
    );
    let created = between(&r.body, "<CreateDate>", "</CreateDate>");
    assert_eq!(created.len(), 20, "YYYY-MM-DDThh:mm:ssZ: {created}");
    assert!(created.ends_with('Z'));
    assert_well_formed(&r.body);
}

#[tokio::test]
async fn any_parameter_order_plus_as_space_and_get() {
    let h = start(&[]).await;
    let r = post_form(
        &h,
        "UserName=u%2B1%40x&Version=2010-05-08&Action=CreateUser",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<UserName>u+1@x</UserName>"));
    // botocore sends a space as `+`: "a b" is not a valid user name.
    let r = post_form(&h, "Action=CreateUser&Version=2010-05-08&UserName=a+b").await;
    r.assert_error(400, "ValidationError");
    let r = send(http().get(format!(
        "{}/?Action=GetUser&Version=2010-05-08&UserName=u%2B1%40x",
        h.endpoint_url()
    )))
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // No Content-Type at all is read as a form too.
    let r = send(
        http()
            .post(h.endpoint_url())
            .body("Action=ListUsers&Version=2010-05-08"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Tags= is the empty list.
    let r = post_form(&h, "Action=CreateUser&Version=2010-05-08&UserName=t&Tags=").await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn decoding_errors() {
    let h = start(&[]).await;
    let r = post_form(&h, "Action=CreateUser&Version=2010-05-08&UserName=%zz").await;
    r.assert_error(400, "MalformedQueryString");
    let r = post_form(&h, "Action=CreateUser&Version=2010-05-08&UserName=%E").await;
    r.assert_error(400, "MalformedQueryString");
    let r = post_form(&h, "Action=CreateUser&Version=2010-05-08&UserName=%ff%fe").await;
    r.assert_error(400, "MalformedQueryString");
    let r = post_form(
        &h,
        b"Action=CreateUser&Version=2010-05-08&UserName=\xc3\x28".to_vec(),
    )
    .await;
    r.assert_error(400, "MalformedQueryString");
    let r = send(
        http()
            .post(h.endpoint_url())
            .header("content-type", "application/json")
            .body("{\"Action\":\"ListUsers\"}"),
    )
    .await;
    r.assert_error(400, "MalformedQueryString");
}

#[tokio::test]
async fn action_and_version_errors() {
    let h = start(&[]).await;
    let r = post_form(&h, "Action=DescribeEverything&Version=2010-05-08").await;
    r.assert_error(400, "InvalidAction");
    assert_eq!(
        r.message(),
        "Could not find operation DescribeEverything for version 2010-05-08"
    );
    let r = post_form(&h, "Version=2010-05-08&UserName=x").await;
    r.assert_error(400, "MissingAction");
    let r = post_form(&h, "").await;
    r.assert_error(400, "MissingAction");
    let r = post_form(&h, "Action=ListUsers").await;
    r.assert_error(400, "InvalidAction");
    assert_eq!(
        r.message(),
        "Could not find operation ListUsers for version NO_VERSION_SPECIFIED"
    );
    let r = post_form(&h, "Action=ListUsers&Version=2011-01-01").await;
    assert_eq!(
        r.message(),
        "Could not find operation ListUsers for version 2011-01-01"
    );
    // Action names are case-sensitive.
    post_form(&h, "Action=listusers&Version=2010-05-08")
        .await
        .assert_error(400, "InvalidAction");
    // Control characters in an echoed action still give well-formed XML.
    post_form(&h, "Action=%01%02%3C&Version=2010-05-08")
        .await
        .assert_error(400, "InvalidAction");
}

#[tokio::test]
async fn validation_errors_over_the_wire() {
    let h = start(&["u"]).await;
    let long = "x".repeat(65);
    let r = post_form(
        &h,
        format!("Action=CreateUser&Version=2010-05-08&UserName={long}"),
    )
    .await;
    r.assert_error(400, "ValidationError");
    assert_eq!(
        r.message(),
        "1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64"
    );
    let r = post_form(&h, "Action=CreateUser&Version=2010-05-08").await;
    r.assert_error(400, "ValidationError");
    assert!(r.message().contains("Value null at 'userName'"));
    let r = post_form(
        &h,
        "Action=ListServiceSpecificCredentials&Version=2010-05-08&MaxItems=ten",
    )
    .await;
    r.assert_error(400, "InvalidParameterValue");
    let r = post_form(
        &h,
        "Action=ListServiceSpecificCredentials&Version=2010-05-08&AllUsers=maybe",
    )
    .await;
    r.assert_error(400, "InvalidParameterValue");
    let r = post_form(
        &h,
        "Action=ListServiceSpecificCredentials&Version=2010-05-08&Marker=",
    )
    .await;
    r.assert_error(400, "ValidationError");
    let r = post_form(
        &h,
        "Action=CreateServiceSpecificCredential&Version=2010-05-08&UserName=u&ServiceName=bedrock.amazonaws.com&CredentialAgeDays=1.5",
    )
    .await;
    r.assert_error(400, "InvalidParameterValue");
    let r = post_form(&h, "Action=ListUsers&Version=2010-05-08&PathPrefix=nope").await;
    r.assert_error(400, "ValidationError");
}

#[tokio::test]
async fn oversized_bodies_are_refused_without_hanging() {
    let h = start_with(iam_emulator::EmulatorConfig {
        max_body_bytes: 1024,
        ..config(&[])
    })
    .await;
    let big = format!(
        "Action=ListUsers&Version=2010-05-08&Pad={}",
        "a".repeat(4096)
    );
    post_form(&h, big.clone())
        .await
        .assert_error(413, "RequestEntityTooLarge");
    // Without a Content-Length (chunked), the limit still holds.
    let raw = chunked_post(h.addr(), big.as_bytes()).await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("<Code>RequestEntityTooLarge</Code>"), "{raw}");
    // Default limit (1 MiB) with a 2 MiB body.
    let h = start(&[]).await;
    let huge = format!(
        "Action=ListUsers&Version=2010-05-08&Pad={}",
        "a".repeat(2 * 1024 * 1024)
    );
    post_form(&h, huge)
        .await
        .assert_error(413, "RequestEntityTooLarge");
    // And the server still answers afterwards.
    assert_eq!(
        post_form(&h, "Action=ListUsers&Version=2010-05-08")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn wrong_method_and_path() {
    let h = start(&[]).await;
    let r = send(
        http()
            .put(h.endpoint_url())
            .body("Action=ListUsers&Version=2010-05-08"),
    )
    .await;
    r.assert_error(405, "MethodNotAllowed");
    let r = send(http().delete(h.endpoint_url())).await;
    r.assert_error(405, "MethodNotAllowed");
    let r = send(
        http()
            .post(format!("{}/iam", h.endpoint_url()))
            .body("Action=ListUsers&Version=2010-05-08"),
    )
    .await;
    r.assert_error(404, "NotFound");
    let r = send(http().get(format!("{}/_emulator/nothing", h.endpoint_url()))).await;
    r.assert_error(404, "NotFound");
}

/// Sends a chunked POST over a plain TCP socket and returns the raw response text.
async fn chunked_post(addr: std::net::SocketAddr, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(1000) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before reading everything; a write error is fine.
    let _ = stream.write_all(&req).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut out),
    )
    .await;
    String::from_utf8_lossy(&out).into_owned()
}
