//! Property tests over the whole request path (HTTP, decoding, dispatch): any input gets an HTTP answer with a
//! well-formed XML body, and nothing but injected faults produces a 5xx.

use iam_emulator::EmulatorHandle;
use proptest::prelude::*;

use crate::support::*;

struct Harness {
    rt: tokio::runtime::Runtime,
    handle: EmulatorHandle,
    client: reqwest::Client,
}

impl Harness {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let handle = rt.block_on(start(&["alice", "bob"]));
        Self {
            rt,
            handle,
            client: http(),
        }
    }

    fn post(&self, body: Vec<u8>) -> RawResponse {
        let req = self
            .client
            .post(self.handle.endpoint_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.rt.block_on(send(req))
    }
}

const ACTIONS: &[&str] = &[
    "CreateUser",
    "GetUser",
    "ListUsers",
    "DeleteUser",
    "CreateServiceSpecificCredential",
    "ListServiceSpecificCredentials",
    "ResetServiceSpecificCredential",
    "UpdateServiceSpecificCredential",
    "DeleteServiceSpecificCredential",
    "Nope",
];

const PARAMS: &[&str] = &[
    "UserName",
    "ServiceName",
    "CredentialAgeDays",
    "ServiceSpecificCredentialId",
    "Status",
    "AllUsers",
    "Marker",
    "MaxItems",
    "Path",
    "PathPrefix",
    "PermissionsBoundary",
    "Tags.member.1.Key",
    "Tags.member.1.Value",
    "Tags",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("alice".to_string()),
        Just("codecommit.amazonaws.com".to_string()),
        Just("bedrock.amazonaws.com".to_string()),
        Just("ACCA12345ABCDEXAMPLE".to_string()),
        Just("Active".to_string()),
        Just("true".to_string()),
        "-?[0-9]{1,12}",
        "[a-zA-Z0-9+=,.@_/-]{0,70}",
        any::<String>(),
    ]
}

fn check_response(r: &RawResponse) -> Result<(), TestCaseError> {
    prop_assert!(
        r.status == 200 || (400..500).contains(&r.status),
        "status {}: {}",
        r.status,
        r.body
    );
    prop_assert_eq!(&r.content_type, "text/xml");
    prop_assert!(!r.request_id.is_empty());
    assert_well_formed(&r.body);
    if r.status != 200 {
        prop_assert!(!r.code().is_empty());
        prop_assert!(r.body.contains("<Type>Sender</Type>"));
    }
    Ok(())
}

#[test]
fn arbitrary_bytes_always_get_well_formed_xml() {
    let h = Harness::new();
    proptest!(ProptestConfig::with_cases(128), |(body in proptest::collection::vec(any::<u8>(), 0..512))| {
        check_response(&h.post(body))?;
    });
}

#[test]
fn arbitrary_parameter_maps_always_get_well_formed_xml() {
    let h = Harness::new();
    let pairs = proptest::collection::vec((prop::sample::select(PARAMS), value()), 0..6);
    proptest!(ProptestConfig::with_cases(256), |(action in prop::sample::select(ACTIONS), pairs in pairs, version in prop::bool::weighted(0.9))| {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            form.append_pair(k, v);
        }
        form.append_pair("Action", action);
        if version {
            form.append_pair("Version", "2010-05-08");
        }
        check_response(&h.post(form.finish().into_bytes()))?;
    });
}
