//! Fuzzing of the emulator's parsers and writers, called directly (no HTTP) so that many inputs
//! run per second: form decoding, SigV4 `Authorization` and date parsing, and the XML error
//! documents that echo request input. CI runs a short pass; a longer one:
//! `PROPTEST_CASES=200000 cargo test --release --test emulator fuzz`.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use iam_emulator::protocol::{decode_form, error_xml, xml_safe};
use iam_emulator::sigv4::{SignedRequest, verify};
use iam_emulator::{AccessKey, ApiError};
use proptest::prelude::*;
use quick_xml::events::Event;

/// Cases per property: `PROPTEST_CASES`, or a short CI pass.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    ProptestConfig::with_cases(cases)
}

/// Bytes biased towards what form decoding treats specially.
fn form_bytes() -> impl Strategy<Value = Vec<u8>> {
    let special = prop::sample::select(vec![
        b'&', b'=', b'%', b'+', b'A', b'f', b'0', 0xC3, 0xA9, 0xFF,
    ]);
    prop::collection::vec(prop_oneof![any::<u8>(), special], 0..200)
}

fn well_formed(xml: &[u8]) -> Result<String, String> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut depth = 0i32;
    let mut text = String::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Text(t)) => text.push_str(&t.xml10_content().map_err(|e| e.to_string())?),
            Ok(Event::GeneralRef(r)) => {
                let name = String::from_utf8_lossy(&r).into_owned();
                let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                    .map(str::to_string)
                    .or_else(|| r.resolve_char_ref().ok().flatten().map(|c| c.to_string()))
                    .ok_or(format!("unknown entity &{name};"))?;
                text.push_str(&resolved);
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
        buf.clear();
    }
    if depth != 0 {
        return Err(format!("unbalanced elements ({depth})"));
    }
    Ok(text)
}

#[test]
fn form_decoding_never_panics_and_round_trips() {
    proptest!(config(), |(input in form_bytes())| {
        if let Ok(params) = decode_form(&input) {
            let encoded: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter())
                .finish();
            let again = decode_form(encoded.as_bytes()).expect("our own encoding decodes");
            prop_assert_eq!(
                again.iter().collect::<Vec<_>>(),
                params.iter().collect::<Vec<_>>()
            );
        }
    });
}

#[test]
fn sigv4_parsing_never_panics_on_any_header() {
    let keys = vec!["AKIDFUZZ:fuzz-secret".parse::<AccessKey>().unwrap()];
    let header_text = prop_oneof![
        ".{0,300}",
        "AWS4-HMAC-SHA256 Credential=AKIDFUZZ/[0-9]{0,9}/[a-z-]{0,12}/iam/aws4_request, SignedHeaders=[a-z;-]{0,40}, Signature=[0-9a-f]{0,70}",
        "AWS4-HMAC-SHA256 [ -~]{0,200}",
    ];
    proptest!(config(), |(authorization in header_text, date in "[0-9TZ]{0,20}", query in "[ -~]{0,80}", body in form_bytes())| {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&authorization) {
            headers.insert(HeaderName::from_static("authorization"), v);
        }
        if let Ok(v) = HeaderValue::from_str(&date) {
            headers.insert(HeaderName::from_static("x-amz-date"), v);
        }
        headers.insert(HeaderName::from_static("host"), HeaderValue::from_static("iam.amazonaws.com"));
        let request = SignedRequest { method: "POST", path: "/", query: &query, headers: &headers, body: &body };
        // A forged or garbled signature is refused, never accepted, never a panic.
        prop_assert!(verify(&request, &keys, 1_700_000_000).is_err());
    });
}

#[test]
fn error_documents_stay_well_formed_and_carry_the_message() {
    proptest!(config(), |(message in any::<String>(), action in ".{0,40}", request_id in "[ -~]{0,40}")| {
        for error in [ApiError::malformed_query(message.clone()), ApiError::invalid_action(&action, Some(&message))] {
            let xml = error_xml(&error, &request_id);
            let text = well_formed(&xml).map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&xml))))?;
            prop_assert!(text.contains(xml_safe(&request_id).trim()), "request id lost");
        }
        let xml = error_xml(&ApiError::malformed_query(message.clone()), &request_id);
        let text = well_formed(&xml).unwrap();
        prop_assert!(text.contains(xml_safe(&message).as_ref()), "message lost: {text:?}");
    });
}
