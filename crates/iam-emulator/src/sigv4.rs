//! AWS Signature Version 4 verification against the configured access keys.
//!
//! The canonical request is rebuilt from the raw request (method, raw path, raw query, the signed headers as
//! received, SHA-256 of the raw body), as the SDKs sign it. Any region is accepted; the service must be `iam`.

use std::fmt::Write as _;

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::ids::digest_eq;

/// Allowed difference between the request's `X-Amz-Date` and the wall clock.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// One configured access key: `AKID:SECRET[:USER[:ACCOUNT]]`; USER `root` is the account's root user.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The IAM user this key belongs to: the caller for requests without `UserName`. `root`: the root user.
    pub user: Option<String>,
    /// The account of the user (default: the emulator's `--account-id`).
    pub account: Option<String>,
}

impl AccessKey {
    /// The key acts as its account's root user (allowed everything but what a guardrail denies).
    pub fn is_root(&self) -> bool {
        self.user.as_deref() == Some("root")
    }
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("user", &self.user)
            .field("account", &self.account)
            .finish()
    }
}

impl std::str::FromStr for AccessKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(4, ':');
        let id = parts.next().unwrap_or_default();
        let secret = parts.next().unwrap_or_default();
        let user = parts.next().filter(|u| !u.is_empty()).map(str::to_string);
        let account = parts.next().map(str::to_string);
        if id.is_empty() || secret.is_empty() {
            return Err("expected AKID:SECRET[:USER[:ACCOUNT]]".into());
        }
        if let Some(a) = &account
            && !(a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!(
                "account {a:?} of access key {id} must be 12 digits"
            ));
        }
        Ok(Self {
            access_key_id: id.into(),
            secret_access_key: secret.into(),
            user,
            account,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    #[error("Request is missing Authentication Token")]
    Missing,
    #[error("{0}")]
    Incomplete(String),
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    #[error("{0}")]
    Scope(String),
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    Mismatch,
    #[error("{0}")]
    Expired(String),
}

impl From<SigV4Error> for ApiError {
    fn from(e: SigV4Error) -> Self {
        let (status, code) = match &e {
            SigV4Error::Missing => (403, "MissingAuthenticationToken"),
            SigV4Error::Incomplete(_) => (400, "IncompleteSignature"),
            SigV4Error::UnknownKey => (403, "InvalidClientTokenId"),
            SigV4Error::Scope(_) | SigV4Error::Mismatch => (403, "SignatureDoesNotMatch"),
            SigV4Error::Expired(_) => (400, "RequestExpired"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// The parts of a request that are signed.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as received (still percent-encoded).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    terminator: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, SigV4Error> {
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(SigV4Error::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'"
        )));
    }
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some((k, v)) = part.split_once('=') {
            match k {
                "Credential" => credential = Some(v),
                "SignedHeaders" => signed = Some(v),
                "Signature" => signature = Some(v),
                _ => {}
            }
        }
    }
    let mut missing = Vec::new();
    for (name, v) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed),
    ] {
        if v.is_none_or(str::is_empty) {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    if !missing.is_empty() {
        missing.push(format!("Authorization={algorithm}"));
        return Err(SigV4Error::Incomplete(missing.join(" ")));
    }
    let credential = credential.unwrap_or_default();
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts[..] else {
        return Err(SigV4Error::Incomplete(format!(
            "Credential should have 5 slash-separated parts (AKID/date/region/service/aws4_request), got '{credential}'."
        )));
    };
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        terminator,
        signed_headers: signed.unwrap_or_default().split(';').collect(),
        signature: signature.unwrap_or_default(),
    })
}

/// `YYYYMMDDTHHMMSSZ` to Unix seconds.
pub(crate) fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let dt = jiff::civil::DateTime::new(
        i16::try_from(num(0..4)?).ok()?,
        i8::try_from(num(4..6)?).ok()?,
        i8::try_from(num(6..8)?).ok()?,
        i8::try_from(num(9..11)?).ok()?,
        i8::try_from(num(11..13)?).ok()?,
        i8::try_from(num(13..15)?).ok()?,
        0,
    )
    .ok()?;
    Some(
        dt.to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_second(),
    )
}

fn amz_format(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

/// RFC 3986 encoding as SigV4 wants it: everything but `A-Za-z0-9-_.~` (and `/` when `keep_slash`).
/// RFC 3986 percent-encoding: everything but the unreserved characters (and `/` with `keep_slash`).
pub(crate) fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn percent_decode(input: &str) -> Vec<u8> {
    let b = input.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(byte) = input
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_header_value(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(name)
        .iter()
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Result<Vec<u8>, SigV4Error> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| SigV4Error::Mismatch)?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// The canonical request (exposed for tests).
pub fn canonical_request(req: &SignedRequest<'_>, signed_headers: &[&str]) -> String {
    let path = if req.path.is_empty() { "/" } else { req.path };
    let mut headers = String::new();
    for name in signed_headers {
        let _ = writeln!(
            headers,
            "{name}:{}",
            canonical_header_value(req.headers, name)
        );
    }
    let payload = match req
        .headers
        .get("x-amz-content-sha256")
        .map(|v| v.as_bytes())
    {
        Some(b"UNSIGNED-PAYLOAD") => "UNSIGNED-PAYLOAD".to_string(),
        _ => hex_sha256(req.body),
    };
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        uri_encode(path.as_bytes(), true),
        canonical_query(req.query),
        headers,
        signed_headers.join(";"),
        payload
    )
}

/// Computes the signature of `req` with `secret` (exposed for tests and for signing helpers).
pub fn signature(
    req: &SignedRequest<'_>,
    signed_headers: &[&str],
    secret: &str,
    amz_date: &str,
    date: &str,
    region: &str,
    service: &str,
) -> Result<String, SigV4Error> {
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex_sha256(canonical_request(req, signed_headers).as_bytes())
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes())?;
    let k_region = hmac(&k_date, region.as_bytes())?;
    let k_service = hmac(&k_region, service.as_bytes())?;
    let k_signing = hmac(&k_service, b"aws4_request")?;
    Ok(hex::encode(hmac(&k_signing, string_to_sign.as_bytes())?))
}

/// Verifies the request's signature; returns the key it was signed with. `now` is wall-clock Unix seconds.
pub fn verify<'k>(
    req: &SignedRequest<'_>,
    keys: &'k [AccessKey],
    now: i64,
) -> Result<&'k AccessKey, SigV4Error> {
    let find = |id: &str| keys.iter().find(|k| k.access_key_id == id);
    let verified = verify_with(req, |id| find(id).map(|k| k.secret_access_key.clone()), now)?;
    find(&verified.access_key_id).ok_or(SigV4Error::UnknownKey)
}

/// What a verified signature tells about the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
    /// The region of the credential scope (`aws:RequestedRegion`).
    pub region: String,
    /// `iam` or `sts`: the caller checks it against the action.
    pub service: String,
}

/// Verifies the request's signature with the secret `secret_of` gives for its access key id. The scope's
/// service may be `iam` or `sts` (one listener serves both); the caller checks it matches the action.
pub fn verify_with(
    req: &SignedRequest<'_>,
    secret_of: impl FnOnce(&str) -> Option<String>,
    now: i64,
) -> Result<Verified, SigV4Error> {
    let query_signed = req
        .query
        .split('&')
        .any(|p| p.starts_with("X-Amz-Signature="));
    let Some(header) = req.headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(if query_signed {
            SigV4Error::Incomplete(
                "Query-string (presigned) authentication is not supported by this emulator.".into(),
            )
        } else {
            SigV4Error::Missing
        });
    };
    let header = String::from_utf8_lossy(header.as_bytes()).into_owned();
    let auth = parse_authorization(&header)?;
    let Some(amz_date) = req
        .headers
        .get("x-amz-date")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    else {
        return Err(SigV4Error::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        ));
    };
    let secret = secret_of(auth.access_key_id).ok_or(SigV4Error::UnknownKey)?;
    if auth.service != "iam" && auth.service != "sts" {
        return Err(SigV4Error::Scope(
            "Credential should be scoped to correct service: 'iam'. ".into(),
        ));
    }
    if auth.terminator != "aws4_request" {
        return Err(SigV4Error::Scope(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
            auth.terminator
        )));
    }
    let Some(signed_at) = parse_amz_date(&amz_date) else {
        return Err(SigV4Error::Incomplete(format!(
            "Invalid X-Amz-Date '{amz_date}'."
        )));
    };
    if !amz_date.starts_with(auth.date) || auth.date.len() != 8 {
        return Err(SigV4Error::Scope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
            auth.date,
            amz_date.get(..8).unwrap_or_default()
        )));
    }
    if signed_at < now - MAX_SKEW_SECS {
        return Err(SigV4Error::Expired(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            amz_format(now - MAX_SKEW_SECS),
            amz_format(now)
        )));
    }
    if signed_at > now + MAX_SKEW_SECS {
        return Err(SigV4Error::Expired(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            amz_format(now + MAX_SKEW_SECS),
            amz_format(now)
        )));
    }
    let expected = signature(
        req,
        &auth.signed_headers,
        &secret,
        &amz_date,
        auth.date,
        auth.region,
        auth.service,
    )?;
    if digest_eq(&expected, &auth.signature.to_ascii_lowercase()) {
        Ok(Verified {
            access_key_id: auth.access_key_id.to_string(),
            region: auth.region.to_string(),
            service: auth.service.to_string(),
        })
    } else {
        Err(SigV4Error::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    // The AWS SigV4 test suite's "get-vanilla-query-order-key-case" vector.
    #[test]
    fn aws_test_vector() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: "Param2=value2&Param1=value1",
            headers: &headers,
            body: b"",
        };
        let sig = signature(
            &req,
            &["host", "x-amz-date"],
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830T123600Z",
            "20150830",
            "us-east-1",
            "service",
        )
        .unwrap();
        assert_eq!(
            sig,
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    #[test]
    fn access_key_parsing() {
        let k: AccessKey = "AKID:se:alice:210987654321".parse().unwrap();
        assert_eq!(k.secret_access_key, "se");
        assert_eq!(k.user.as_deref(), Some("alice"));
        assert_eq!(k.account.as_deref(), Some("210987654321"));
        assert!("AKID:se:alice:not-an-account".parse::<AccessKey>().is_err());
        assert!("AKID:se:root".parse::<AccessKey>().unwrap().is_root());
        let k: AccessKey = "AKID:secret".parse().unwrap();
        assert_eq!(k.user, None);
        assert!("AKID".parse::<AccessKey>().is_err());
        assert!(!format!("{k:?}").contains("secret\""));
    }

    #[test]
    fn malformed_headers_are_incomplete() {
        let keys = vec!["AKID:secret".parse::<AccessKey>().unwrap()];
        let mut headers = HeaderMap::new();
        let req = |h: &HeaderMap| {
            let r = SignedRequest {
                method: "POST",
                path: "/",
                query: "",
                headers: h,
                body: b"",
            };
            verify(&r, &keys, 0).map(|_| ())
        };
        assert_eq!(req(&headers), Err(SigV4Error::Missing));
        headers.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=AKID/x"),
        );
        assert!(matches!(req(&headers), Err(SigV4Error::Incomplete(_))));
        headers.insert("authorization", HeaderValue::from_static("Basic abc"));
        assert!(matches!(req(&headers), Err(SigV4Error::Incomplete(_))));
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(parse_amz_date("2015-08-30"), None);
        assert_eq!(parse_amz_date("20151330T123600Z"), None);
    }
}
