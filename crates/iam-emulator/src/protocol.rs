//! The awsQuery wire format: strict form decoding of requests, and the XML of responses and errors.
//!
//! Everything here is pure: bytes in, values out.

use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::error::ApiError;

/// IAM's XML namespace; AWS sends it on every response.
pub const XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// The only API version IAM has.
pub const API_VERSION: &str = "2010-05-08";

/// Why a form body or query string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("Invalid percent-encoding at byte {0} of the request parameters.")]
    BadPercent(usize),
    #[error("The request parameters are not valid UTF-8 after percent-decoding.")]
    InvalidUtf8,
}

impl From<FormError> for ApiError {
    fn from(e: FormError) -> Self {
        ApiError::malformed_query(e.to_string())
    }
}

/// Decoded request parameters, in arrival order. Lookups return the first occurrence of a name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Appends the pairs of `other` (used to merge the query string with the body).
    pub fn extend(&mut self, other: Params) {
        self.pairs.extend(other.pairs);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Reads an awsQuery list `Name.member.N.Field`, ordered by `N`. `Name=` (the Rust SDK's empty list) and an
    /// absent list both give an empty list. Entries whose index is not a positive integer are ignored.
    pub fn member_list(&self, name: &str) -> Vec<Vec<(String, String)>> {
        let prefix = format!("{name}.member.");
        let mut entries: std::collections::BTreeMap<u32, Vec<(String, String)>> =
            Default::default();
        for (k, v) in self.iter() {
            let Some(rest) = k.strip_prefix(&prefix) else {
                continue;
            };
            let (index, field) = match rest.split_once('.') {
                Some((i, f)) => (i, f),
                None => (rest, ""),
            };
            let Ok(index) = index.parse::<u32>() else {
                continue;
            };
            if index == 0 {
                continue;
            }
            entries
                .entry(index)
                .or_default()
                .push((field.to_string(), v.to_string()));
        }
        entries.into_values().collect()
    }
}

/// Decodes `application/x-www-form-urlencoded` bytes with full form semantics: `&` separates pairs, the first `=`
/// separates name and value, `+` is a space, `%XX` is a byte. Unlike `form_urlencoded`, malformed escapes and
/// invalid UTF-8 are errors instead of being passed through or replaced.
pub fn decode_form(input: &[u8]) -> Result<Params, FormError> {
    let mut pairs = Vec::new();
    let mut offset = 0usize;
    for segment in input.split(|b| *b == b'&') {
        let start = offset;
        offset += segment.len() + 1;
        if segment.is_empty() {
            continue;
        }
        let (name, value, value_start) = match segment.iter().position(|b| *b == b'=') {
            Some(i) => (&segment[..i], &segment[i + 1..], start + i + 1),
            None => (segment, &segment[segment.len()..], start + segment.len()),
        };
        let name = decode_component(name, start)?;
        let value = decode_component(value, value_start)?;
        if name.is_empty() {
            continue;
        }
        pairs.push((name, value));
    }
    Ok(Params { pairs })
}

fn decode_component(input: &[u8], base: usize) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = input.get(i + 1).and_then(|b| hex_val(*b));
                let lo = input.get(i + 2).and_then(|b| hex_val(*b));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(FormError::BadPercent(base + i)),
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| FormError::InvalidUtf8)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The media type of a `Content-Type` value, lower-cased, parameters (`; charset=utf-8`) dropped.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Replaces characters that XML 1.0 cannot carry (most C0 controls, lone surrogates cannot occur in `str`,
/// U+FFFE/U+FFFF) with U+FFFD, so that echoed input never breaks the document.
pub fn xml_safe(text: &str) -> std::borrow::Cow<'_, str> {
    fn ok(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
    }
    if text.chars().all(ok) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(
            text.chars()
                .map(|c| if ok(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

/// A small XML builder over quick-xml's `Writer`. Writing into a `Vec` cannot fail, but the first error is kept
/// and reported by [`Xml::finish`] rather than unwrapped.
pub struct Xml {
    w: Writer<Vec<u8>>,
    err: Option<std::io::Error>,
}

impl Default for Xml {
    fn default() -> Self {
        Self::new()
    }
}

impl Xml {
    pub fn new() -> Self {
        let mut xml = Self {
            w: Writer::new(Vec::with_capacity(512)),
            err: None,
        };
        xml.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        xml
    }

    fn event(&mut self, e: Event<'_>) {
        if self.err.is_none()
            && let Err(e) = self.w.write_event(e)
        {
            self.err = Some(e);
        }
    }

    /// Opens the root element with IAM's namespace.
    pub fn root(&mut self, name: &str) -> &mut Self {
        self.root_in(name, XMLNS)
    }

    /// Opens the root element with the namespace `ns`.
    pub fn root_in(&mut self, name: &str, ns: &str) -> &mut Self {
        let mut start = BytesStart::new(name);
        start.push_attribute(("xmlns", ns));
        self.event(Event::Start(start));
        self
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        self.event(Event::Start(BytesStart::new(name)));
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.event(Event::End(BytesEnd::new(name)));
        self
    }

    /// `<name>text</name>`, text escaped and made XML-safe.
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name);
        // Only `<`, `>` and `&` are escaped in text, as AWS does (quotes stay literal).
        let safe = xml_safe(text);
        self.event(Event::Text(BytesText::from_escaped(partial_escape(
            safe.as_ref(),
        ))));
        self.close(name)
    }

    pub fn leaf_opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.leaf(name, t);
        }
        self
    }

    /// `<name/>`.
    pub fn empty(&mut self, name: &str) -> &mut Self {
        self.event(Event::Empty(BytesStart::new(name)));
        self
    }

    pub fn finish(self) -> Result<Vec<u8>, std::io::Error> {
        match self.err {
            Some(e) => Err(e),
            None => Ok(self.w.into_inner()),
        }
    }
}

/// Used if rendering ever fails: a fixed, well-formed error document.
pub const FALLBACK_ERROR: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>The request processing has failed because of an unknown error, exception or failure.</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>";

/// The `ErrorResponse` document for an error.
pub fn error_xml(err: &ApiError, request_id: &str) -> Vec<u8> {
    error_xml_in(XMLNS, err, request_id)
}

/// [`error_xml`] in the namespace `ns` (STS answers in its own).
pub fn error_xml_in(ns: &str, err: &ApiError, request_id: &str) -> Vec<u8> {
    let mut x = Xml::new();
    x.root_in("ErrorResponse", ns).open("Error");
    x.leaf("Type", err.fault_type())
        .leaf("Code", &err.code)
        .leaf("Message", &err.message)
        .close("Error")
        .leaf("RequestId", request_id)
        .close("ErrorResponse");
    x.finish()
        .unwrap_or_else(|_| FALLBACK_ERROR.as_bytes().to_vec())
}

/// An IAM user as the wire shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    pub path: String,
    pub user_name: String,
    pub user_id: String,
    pub arn: String,
    pub create_date: String,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// A service-specific credential as the wire shows it (`ServiceSpecificCredential` when `secret` is set,
/// `ServiceSpecificCredentialMetadata` otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialView {
    pub create_date: String,
    pub expiration_date: Option<String>,
    pub service_name: String,
    pub service_user_name: Option<String>,
    pub service_credential_alias: Option<String>,
    /// `ServicePassword` for password services, `ServiceCredentialSecret` for API keys; only on Create/Reset.
    pub secret: Option<CredentialSecret>,
    pub id: String,
    pub user_name: String,
    pub status: &'static str,
}

#[derive(Clone, PartialEq, Eq)]
pub enum CredentialSecret {
    Password(String),
    ApiKey(String),
}

impl std::fmt::Debug for CredentialSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialSecret(<redacted>)")
    }
}

/// The result of an operation, before it is written as XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `CreateUser`, `GetUser`: `<User>` inside the result.
    User(UserView),
    ListUsers {
        users: Vec<UserView>,
        marker: Option<String>,
    },
    /// `CreateServiceSpecificCredential`, `ResetServiceSpecificCredential`.
    Credential(CredentialView),
    ListCredentials {
        credentials: Vec<CredentialView>,
        marker: Option<String>,
    },
    /// Update, Delete, DeleteUser: only `ResponseMetadata`.
    Empty,
    /// Answers that are plain nested fields (roles, policies, access keys, STS), inside the result element.
    Tree(Vec<Node>),
}

/// One element of an [`Output::Tree`].
#[derive(Clone, PartialEq, Eq)]
pub enum Node {
    Leaf(&'static str, String),
    /// A secret (access key secret, session token): written as a leaf, never shown by `Debug`.
    Secret(&'static str, String),
    /// An element of elements; with none, `<name/>` (an empty list).
    Branch(&'static str, Vec<Node>),
}

impl Node {
    pub fn leaf(name: &'static str, value: impl Into<String>) -> Self {
        Node::Leaf(name, value.into())
    }

    /// `Some` values as a leaf, `None` as nothing (for `extend`/`flatten`).
    pub fn opt(name: &'static str, value: Option<impl Into<String>>) -> Option<Self> {
        value.map(|v| Node::Leaf(name, v.into()))
    }

    fn write(&self, x: &mut Xml) {
        match self {
            Node::Leaf(name, v) | Node::Secret(name, v) => {
                x.leaf(name, v);
            }
            Node::Branch(name, children) if children.is_empty() => {
                x.empty(name);
            }
            Node::Branch(name, children) => {
                x.open(name);
                for c in children {
                    c.write(x);
                }
                x.close(name);
            }
        }
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::Leaf(name, v) => write!(f, "{name}={v:?}"),
            Node::Secret(name, _) => write!(f, "{name}=<redacted>"),
            Node::Branch(name, children) => f.debug_tuple(name).field(children).finish(),
        }
    }
}

/// The success document: `<{action}Response><{action}Result>…</…Result><ResponseMetadata>…`.
pub fn success_xml(
    action: &str,
    output: &Output,
    request_id: &str,
) -> Result<Vec<u8>, std::io::Error> {
    success_xml_in(XMLNS, action, output, request_id)
}

/// [`success_xml`] in the namespace `ns` (STS answers in its own).
pub fn success_xml_in(
    ns: &str,
    action: &str,
    output: &Output,
    request_id: &str,
) -> Result<Vec<u8>, std::io::Error> {
    let response = format!("{action}Response");
    let result = format!("{action}Result");
    let mut x = Xml::new();
    x.root_in(&response, ns);
    match output {
        Output::Empty => {}
        Output::Tree(nodes) => {
            x.open(&result);
            for n in nodes {
                n.write(&mut x);
            }
            x.close(&result);
        }
        Output::User(u) => {
            x.open(&result);
            write_user(&mut x, "User", u, true);
            x.close(&result);
        }
        Output::ListUsers { users, marker } => {
            x.open(&result);
            if users.is_empty() {
                x.empty("Users");
            } else {
                x.open("Users");
                for u in users {
                    write_user(&mut x, "member", u, false);
                }
                x.close("Users");
            }
            x.leaf(
                "IsTruncated",
                if marker.is_some() { "true" } else { "false" },
            );
            x.leaf_opt("Marker", marker.as_deref());
            x.close(&result);
        }
        Output::Credential(c) => {
            x.open(&result);
            write_credential(&mut x, "ServiceSpecificCredential", c);
            x.close(&result);
        }
        Output::ListCredentials {
            credentials,
            marker,
        } => {
            x.open(&result);
            if credentials.is_empty() {
                x.empty("ServiceSpecificCredentials");
            } else {
                x.open("ServiceSpecificCredentials");
                for c in credentials {
                    write_credential(&mut x, "member", c);
                }
                x.close("ServiceSpecificCredentials");
            }
            x.leaf_opt("Marker", marker.as_deref());
            x.leaf(
                "IsTruncated",
                if marker.is_some() { "true" } else { "false" },
            );
            x.close(&result);
        }
    }
    x.open("ResponseMetadata")
        .leaf("RequestId", request_id)
        .close("ResponseMetadata")
        .close(&response);
    x.finish()
}

fn write_user(x: &mut Xml, element: &str, u: &UserView, full: bool) {
    x.open(element)
        .leaf("Path", &u.path)
        .leaf("UserName", &u.user_name)
        .leaf("UserId", &u.user_id)
        .leaf("Arn", &u.arn)
        .leaf("CreateDate", &u.create_date);
    if full {
        if let Some(b) = &u.permissions_boundary {
            x.open("PermissionsBoundary")
                .leaf("PermissionsBoundaryType", "Policy")
                .leaf("PermissionsBoundaryArn", b)
                .close("PermissionsBoundary");
        }
        if !u.tags.is_empty() {
            x.open("Tags");
            for (k, v) in &u.tags {
                x.open("member")
                    .leaf("Key", k)
                    .leaf("Value", v)
                    .close("member");
            }
            x.close("Tags");
        }
    }
    x.close(element);
}

fn write_credential(x: &mut Xml, element: &str, c: &CredentialView) {
    x.open(element)
        .leaf("CreateDate", &c.create_date)
        .leaf_opt("ExpirationDate", c.expiration_date.as_deref())
        .leaf("ServiceName", &c.service_name)
        .leaf_opt("ServiceUserName", c.service_user_name.as_deref())
        .leaf_opt(
            "ServiceCredentialAlias",
            c.service_credential_alias.as_deref(),
        );
    match &c.secret {
        Some(CredentialSecret::Password(p)) => {
            x.leaf("ServicePassword", p);
        }
        Some(CredentialSecret::ApiKey(s)) => {
            x.leaf("ServiceCredentialSecret", s);
        }
        None => {}
    }
    x.leaf("ServiceSpecificCredentialId", &c.id)
        .leaf("UserName", &c.user_name)
        .leaf("Status", c.status)
        .close(element);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_plus_percent_and_order() {
        let p =
            decode_form(b"UserName=a+b&Action=X&Version=2010-05-08&N=u%2B1%40x&E=&Tags=").unwrap();
        assert_eq!(p.get("UserName"), Some("a b"));
        assert_eq!(p.get("N"), Some("u+1@x"));
        assert_eq!(p.get("E"), Some(""));
        assert_eq!(p.get("Action"), Some("X"));
        assert!(p.member_list("Tags").is_empty());
    }

    #[test]
    fn rejects_bad_percent_and_utf8() {
        assert_eq!(decode_form(b"A=%zz"), Err(FormError::BadPercent(2)));
        assert_eq!(decode_form(b"A=%4"), Err(FormError::BadPercent(2)));
        assert_eq!(decode_form(b"A=%ff%fe"), Err(FormError::InvalidUtf8));
        assert_eq!(decode_form(b"A=\xff"), Err(FormError::InvalidUtf8));
        assert_eq!(decode_form(b"A=%C3%A9").unwrap().get("A"), Some("é"));
    }

    #[test]
    fn member_lists_are_ordered_by_index() {
        let p = decode_form(
            b"Tags.member.2.Key=b&Tags.member.1.Key=a&Tags.member.1.Value=v+1&Tags.member.2.Value=&Tags.member.x.Key=z",
        )
        .unwrap();
        let tags = p.member_list("Tags");
        assert_eq!(tags.len(), 2);
        assert_eq!(
            tags[0],
            vec![("Key".into(), "a".into()), ("Value".into(), "v 1".into())]
        );
        assert_eq!(tags[1][0], ("Key".into(), "b".into()));
    }

    #[test]
    fn media_type_ignores_parameters() {
        assert_eq!(
            media_type("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
            "application/x-www-form-urlencoded"
        );
        assert_eq!(media_type(""), "");
    }

    #[test]
    fn error_document_shape() {
        let xml = String::from_utf8(error_xml(&ApiError::no_such_user("bob"), "rid")).unwrap();
        assert!(xml.contains("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The user with name bob cannot be found.</Message></Error><RequestId>rid</RequestId></ErrorResponse>"), "{xml}");
    }

    #[test]
    fn result_comes_before_metadata_and_empty_lists_are_empty_elements() {
        let xml = String::from_utf8(
            success_xml(
                "ListServiceSpecificCredentials",
                &Output::ListCredentials {
                    credentials: vec![],
                    marker: None,
                },
                "rid",
            )
            .unwrap(),
        )
        .unwrap();
        let result = xml.find("<ListServiceSpecificCredentialsResult>").unwrap();
        let meta = xml.find("<ResponseMetadata>").unwrap();
        assert!(result < meta);
        assert!(xml.contains("<ServiceSpecificCredentials/>"));
        assert!(xml.contains("<IsTruncated>false</IsTruncated>"));
    }

    #[test]
    fn control_characters_are_replaced() {
        let xml = String::from_utf8(error_xml(
            &ApiError::invalid_action("a\u{1}<b>&", None),
            "r",
        ))
        .unwrap();
        assert!(xml.contains("a\u{FFFD}&lt;b&gt;&amp;"), "{xml}");
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_form(&bytes);
        }

        #[test]
        fn encoded_pairs_round_trip(pairs in proptest::collection::vec(("[a-zA-Z.]{1,8}", "\\PC{0,12}"), 0..6)) {
            let encoded: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .finish();
            let decoded = decode_form(encoded.as_bytes()).unwrap();
            let got: Vec<(String, String)> = decoded.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            prop_assert_eq!(got, pairs);
        }
    }
}
