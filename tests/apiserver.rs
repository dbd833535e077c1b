//! Conformance tests of the Kubernetes API stand-in (`crates/kube-standin`).
//!
//! `transcripts_replay_in_order` (01–41) and `transcripts_42_to_53_replay_in_order` (the later
//! sequence in namespace `rec`) replay every recorded request of
//! `tests/fixtures/kube-apiserver-transcripts/` (recorded against a real kube-apiserver v1.28.7 +
//! kube-controller-manager), each sequence against a fresh stand-in, and require the same status
//! codes and bodies — key order included — modulo uids, resourceVersions (mapped consistently and
//! required to increase where the real ones did), generated names and continue tokens.
//! Timestamps are compared exactly: the stand-in's clock is set to the recorded time of each step.
//! The other tests drive the stand-in with a real `kube::Client` and kube-runtime.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kube_standin::{ApiServer, ApiServerConfig, RequestMatcher};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

// -------------------------------------------------------------------------------------------------
// Order-preserving JSON
// -------------------------------------------------------------------------------------------------

/// JSON with object keys in document order (the transcripts keep the server's key order).
#[derive(Clone, Debug, PartialEq)]
enum OValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<OValue>),
    Object(Vec<(String, OValue)>),
}

impl<'de> Deserialize<'de> for OValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<OValue, E> {
                Ok(OValue::Null)
            }
            fn visit_none<E>(self) -> Result<OValue, E> {
                Ok(OValue::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<OValue, E> {
                Ok(OValue::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<OValue, E> {
                Ok(OValue::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<OValue, E> {
                Ok(OValue::Number(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<OValue, E> {
                serde_json::Number::from_f64(n)
                    .map(OValue::Number)
                    .ok_or_else(|| E::custom("non-finite"))
            }
            fn visit_str<E>(self, s: &str) -> Result<OValue, E> {
                Ok(OValue::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<OValue, E> {
                Ok(OValue::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<OValue, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(OValue::Array(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<OValue, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = a.next_entry::<String, OValue>()? {
                    v.push((k, x));
                }
                Ok(OValue::Object(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl OValue {
    fn parse(s: &str) -> OValue {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("invalid JSON ({e}): {s}"))
    }
    fn get(&self, k: &str) -> Option<&OValue> {
        match self {
            OValue::Object(m) => m.iter().find(|(key, _)| key == k).map(|(_, v)| v),
            _ => None,
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            OValue::String(s) => Some(s),
            _ => None,
        }
    }
    fn to_json(&self) -> Value {
        match self {
            OValue::Null => Value::Null,
            OValue::Bool(b) => Value::Bool(*b),
            OValue::Number(n) => Value::Number(n.clone()),
            OValue::String(s) => Value::String(s.clone()),
            OValue::Array(a) => Value::Array(a.iter().map(OValue::to_json).collect()),
            OValue::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }
    /// Every string under key `key`, anywhere.
    fn strings_at(&self, key: &str, out: &mut Vec<String>) {
        match self {
            OValue::Object(m) => {
                for (k, v) in m {
                    if k == key
                        && let OValue::String(s) = v
                    {
                        out.push(s.clone());
                    }
                    v.strings_at(key, out);
                }
            }
            OValue::Array(a) => a.iter().for_each(|v| v.strings_at(key, out)),
            _ => {}
        }
    }
}

// -------------------------------------------------------------------------------------------------
// Transcripts
// -------------------------------------------------------------------------------------------------

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kube-apiserver-transcripts")
}

fn crd()
-> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    let yaml = std::fs::read_to_string(fixtures().join("crd.yaml")).expect("crd.yaml");
    serde_yaml::from_str(&yaml).expect("crd.yaml parses as a CustomResourceDefinition")
}

struct Transcript {
    file: String,
    request: OValue,
    status: u16,
    body: OValue,
    events: Option<Vec<OValue>>,
}

fn transcript(prefix: &str) -> Transcript {
    let dir = fixtures();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("transcripts dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".json"))
        .collect();
    names.sort();
    let file = names
        .first()
        .unwrap_or_else(|| panic!("no transcript {prefix}"))
        .clone();
    let v = OValue::parse(&std::fs::read_to_string(dir.join(&file)).expect("read transcript"));
    let resp = v.get("response").expect("response");
    let status = match resp.get("status") {
        Some(OValue::Number(n)) => n.as_u64().expect("status") as u16,
        _ => panic!("status"),
    };
    let events = match resp.get("events") {
        Some(OValue::Array(a)) => Some(a.clone()),
        _ => None,
    };
    Transcript {
        file,
        request: v.get("request").expect("request").clone(),
        status,
        body: resp.get("body").cloned().unwrap_or(OValue::Null),
        events,
    }
}

/// An HTTP answer.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> OValue {
        OValue::parse(&self.body)
    }
}

const UA: &str = "curl/8.5.0";

async fn send(
    server: &ApiServer,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<String>,
    headers: &[(&str, String)],
) -> Answer {
    let client = reqwest::Client::new();
    let mut req = client.request(
        reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
        format!("{}{}", server.url(), path),
    );
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
    {
        req = req.header("user-agent", UA);
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
    {
        req = req.header("authorization", format!("Bearer {}", server.admin_token()));
    }
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp.text().await.expect("body");
    Answer {
        status,
        content_type,
        body,
    }
}

// -------------------------------------------------------------------------------------------------
// Normalisation: consistent mappings of volatile values
// -------------------------------------------------------------------------------------------------

#[derive(Default)]
struct Norm {
    uids: BTreeMap<String, String>,
    rvs: BTreeMap<u64, u64>,
    names: BTreeMap<String, String>,
    tokens: BTreeMap<String, String>,
}

fn decode_token(t: &str) -> Value {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .expect("continue token is base64url");
    serde_json::from_slice(&raw).expect("continue token is JSON")
}

impl Norm {
    fn map_uid(&mut self, rec: &str, act: &str, at: &str) -> Result<(), String> {
        if let Some(prev) = self.uids.get(rec) {
            return if prev == act {
                Ok(())
            } else {
                Err(format!("{at}: uid {rec} was {prev}, now {act}"))
            };
        }
        if self.uids.values().any(|v| v == act) {
            return Err(format!(
                "{at}: uid {act} already stands for another recorded uid"
            ));
        }
        self.uids.insert(rec.into(), act.into());
        Ok(())
    }

    fn map_rv(&mut self, rec: &str, act: &str, at: &str) -> Result<(), String> {
        let (Ok(r), Ok(a)) = (rec.parse::<u64>(), act.parse::<u64>()) else {
            return if rec == act {
                Ok(())
            } else {
                Err(format!("{at}: resourceVersion {rec:?} vs {act:?}"))
            };
        };
        if let Some(prev) = self.rvs.get(&r) {
            return if *prev == a {
                Ok(())
            } else {
                Err(format!("{at}: resourceVersion {r} was {prev}, now {a}"))
            };
        }
        if let Some((other, _)) = self.rvs.iter().find(|(_, v)| **v == a) {
            return Err(format!(
                "{at}: resourceVersion {a} already stands for recorded {other} (recorded {r})"
            ));
        }
        self.rvs.insert(r, a);
        Ok(())
    }

    /// Recorded values in a string replaced by the stand-in's.
    fn subst(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (r, a) in self
            .uids
            .iter()
            .chain(self.names.iter())
            .chain(self.tokens.iter())
        {
            out = out.replace(r.as_str(), a.as_str());
        }
        out
    }

    fn cmp(&mut self, exp: &OValue, act: &OValue, at: &str, key: &str) -> Result<(), String> {
        match (exp, act) {
            (OValue::Object(e), OValue::Object(a)) => {
                let ek: Vec<String> = e.iter().map(|(k, _)| self.subst(k)).collect();
                let ak: Vec<String> = a.iter().map(|(k, _)| k.clone()).collect();
                if ek != ak {
                    return Err(format!(
                        "{at}: keys differ\n  expected {ek:?}\n  actual   {ak:?}"
                    ));
                }
                for ((k, ev), (_, av)) in e.iter().zip(a.iter()) {
                    self.cmp(ev, av, &format!("{at}.{k}"), k)?;
                }
                Ok(())
            }
            (OValue::Array(e), OValue::Array(a)) => {
                if e.len() != a.len() {
                    return Err(format!(
                        "{at}: {} items expected, {} found\n  expected {e:?}\n  actual   {a:?}",
                        e.len(),
                        a.len()
                    ));
                }
                for (i, (ev, av)) in e.iter().zip(a.iter()).enumerate() {
                    self.cmp(ev, av, &format!("{at}[{i}]"), key)?;
                }
                Ok(())
            }
            (OValue::String(e), OValue::String(a)) => match key {
                "uid" => self.map_uid(e, a, at),
                "resourceVersion" => self.map_rv(e, a, at),
                "continue" if !e.is_empty() => {
                    let (et, atok) = (decode_token(e), decode_token(a));
                    if et["start"] != atok["start"] || et["v"] != atok["v"] {
                        return Err(format!("{at}: continue token {et} vs {atok}"));
                    }
                    self.map_rv(&et["rv"].to_string(), &atok["rv"].to_string(), at)?;
                    self.tokens.insert(e.clone(), a.clone());
                    Ok(())
                }
                _ => {
                    if self.subst(e) == *a {
                        Ok(())
                    } else {
                        Err(format!("{at}: expected {e:?}, found {a:?}"))
                    }
                }
            },
            _ if exp == act => Ok(()),
            _ => Err(format!("{at}: expected {exp:?}, found {act:?}")),
        }
    }

    /// Request values: recorded uids/resourceVersions/tokens replaced by the stand-in's.
    fn request_json(&self, v: &OValue, key: &str) -> Value {
        match v {
            OValue::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.request_json(v, k)))
                    .collect(),
            ),
            OValue::Array(a) => Value::Array(a.iter().map(|x| self.request_json(x, key)).collect()),
            OValue::String(s) if key == "resourceVersion" => {
                let mapped = s
                    .parse::<u64>()
                    .ok()
                    .and_then(|r| self.rvs.get(&r))
                    .map(|a| a.to_string());
                Value::String(mapped.unwrap_or_else(|| s.clone()))
            }
            OValue::String(s) => match truncated_placeholder(s) {
                Some(full) => Value::String(full),
                None => Value::String(self.subst(s)),
            },
            other => other.to_json(),
        }
    }

    fn request_path(&self, p: &str) -> String {
        let mut out = self.subst(p);
        if let Some(i) = out.find("resourceVersion=") {
            let start = i + "resourceVersion=".len();
            let end = out[start..].find('&').map_or(out.len(), |e| start + e);
            if let Some(a) = out[start..end]
                .parse::<u64>()
                .ok()
                .and_then(|r| self.rvs.get(&r))
            {
                out = format!("{}{}{}", &out[..start], a, &out[end..]);
            }
        }
        out
    }

    /// resourceVersions must increase where the real ones did.
    fn check_rv_order(&self) -> Result<(), String> {
        let pairs: Vec<(&u64, &u64)> = self.rvs.iter().collect();
        for w in pairs.windows(2) {
            if w[0].1 >= w[1].1 {
                return Err(format!(
                    "recorded {} < {} but stand-in {} >= {}",
                    w[0].0, w[1].0, w[0].1, w[1].1
                ));
            }
        }
        Ok(())
    }
}

/// A request value the transcript shows truncated as `<N x characters>` (46), rebuilt.
fn truncated_placeholder(s: &str) -> Option<String> {
    let n: usize = s
        .strip_prefix('<')?
        .strip_suffix(" x characters>")?
        .parse()
        .ok()?;
    Some("x".repeat(n))
}

/// The recorded time of a step: the latest server-set timestamp in its answer.
fn step_time(body: &OValue, events: Option<&Vec<OValue>>) -> Option<jiff::Timestamp> {
    let mut times = Vec::new();
    let mut collect = |v: &OValue| {
        v.strings_at("time", &mut times);
        v.strings_at("creationTimestamp", &mut times);
        v.strings_at("deletionTimestamp", &mut times);
    };
    collect(body);
    if let Some(evs) = events {
        evs.iter().for_each(&mut collect);
    }
    times
        .iter()
        .filter_map(|t| t.parse::<jiff::Timestamp>().ok())
        .max()
}

fn at(t: &str) -> jiff::Timestamp {
    t.parse().expect("timestamp")
}

/// A transcript request with the stand-in's values substituted.
struct RequestParts {
    method: String,
    path: String,
    content_type: Option<String>,
    body: Option<String>,
    headers: Vec<(&'static str, String)>,
}

struct Replay {
    server: ApiServer,
    norm: Norm,
    /// The recording client's User-Agent (its prefix is the default field manager).
    user_agent: &'static str,
}

impl Replay {
    async fn new() -> Replay {
        Self::with_user_agent(UA).await
    }

    async fn with_user_agent(user_agent: &'static str) -> Replay {
        Replay {
            server: ApiServer::start(vec![crd()]).await,
            norm: Norm::default(),
            user_agent,
        }
    }

    fn request_parts(&self, t: &Transcript) -> RequestParts {
        let r = &t.request;
        let method = r
            .get("method")
            .and_then(OValue::as_str)
            .expect("method")
            .to_string();
        let path = self.norm.request_path(
            r.get("path_and_query")
                .and_then(OValue::as_str)
                .expect("path"),
        );
        let ct = r
            .get("content_type")
            .and_then(OValue::as_str)
            .map(str::to_string);
        let body = match r.get("body") {
            None | Some(OValue::Null) => None,
            Some(OValue::String(s)) => Some(self.norm.subst(s)),
            Some(v) => Some(self.norm.request_json(v, "").to_string()),
        };
        let mut headers = vec![("user-agent", self.user_agent.to_string())];
        if let Some(OValue::Object(h)) = r.get("headers") {
            for (k, v) in h {
                let v = v.as_str().unwrap_or("").to_string();
                let v = if v.contains("REDACTED") {
                    format!("Bearer {}", self.server.admin_token())
                } else {
                    v
                };
                let k: &'static str = match k.to_ascii_lowercase().as_str() {
                    "authorization" => "authorization",
                    "impersonate-user" => "impersonate-user",
                    "accept" => "accept",
                    other => panic!("unexpected header {other}"),
                };
                headers.push((k, v));
            }
        }
        RequestParts {
            method,
            path,
            content_type: ct,
            body,
            headers,
        }
    }

    /// Sends a transcript's request and requires the recorded answer.
    async fn step(&mut self, prefix: &str) -> Answer {
        let t = transcript(prefix);
        if let Some(time) = step_time(&t.body, t.events.as_ref()) {
            self.server.set_time(Some(time));
        }
        let RequestParts {
            method,
            path,
            content_type: ct,
            body,
            headers,
        } = self.request_parts(&t);
        let ans = send(&self.server, &method, &path, ct.as_deref(), body, &headers).await;
        assert_eq!(
            ans.status, t.status,
            "{}: status (body {})",
            t.file, ans.body
        );
        assert_eq!(
            ans.content_type, "application/json",
            "{}: content type",
            t.file
        );
        if let OValue::Array(events) = &t.body {
            // a watch stream recorded as its parsed lines
            assert!(ans.body.ends_with('\n'), "{}: {:?}", t.file, ans.body);
            let lines: Vec<OValue> = ans.body.lines().map(OValue::parse).collect();
            let actual = OValue::Array(lines);
            if let Err(e) = self
                .norm
                .cmp(&OValue::Array(events.clone()), &actual, "lines", "")
            {
                panic!("{}: {e}\nactual:\n{}", t.file, ans.body);
            }
            return ans;
        }
        let actual = ans.json();
        if let Err(e) = self.norm.cmp(&t.body, &actual, "body", "") {
            panic!(
                "{}: {e}\nexpected: {}\nactual:   {}",
                t.file,
                t.body.to_json(),
                ans.body
            );
        }
        ans
    }

    /// An unrecorded step the transcripts' notes describe; must succeed.
    async fn extra(
        &mut self,
        time: &str,
        method: &str,
        path: &str,
        ct: Option<&str>,
        body: Value,
    ) -> Answer {
        self.server.set_time(Some(at(time)));
        let body = if body.is_null() {
            None
        } else {
            Some(body.to_string())
        };
        let headers = [("user-agent", self.user_agent.to_string())];
        let ans = send(&self.server, method, path, ct, body, &headers).await;
        assert!(
            ans.status < 300,
            "{method} {path}: {} {}",
            ans.status,
            ans.body
        );
        ans
    }
}

const SSC: &str =
    "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/default/servicespecificcredentials";

fn ssc_body(name: &str, labels: Value, spec: Value) -> Value {
    let mut v = json!({"apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential", "metadata": {"name": name}, "spec": spec});
    if !labels.is_null() {
        v["metadata"]["labels"] = labels;
    }
    v
}

async fn wait_gone(server: &ApiServer, path: &str) -> Duration {
    let start = std::time::Instant::now();
    loop {
        let a = send(server, "GET", path, None, None, &[]).await;
        if a.status == 404 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{path} still exists: {}",
            a.body
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcripts_replay_in_order() {
    let mut r = Replay::new().await;
    for p in [
        "01-", "02-", "03-", "04-", "05-", "06-", "07-", "08-", "09-", "10-", "11-",
    ] {
        r.step(p).await;
    }
    // 12's notes: the same request was sent once before (unrecorded).
    r.extra(
        "2026-11-22T13:58:07Z",
        "PATCH",
        &format!("{SSC}/alice-codecommit/status?fieldManager=ssc-operator"),
        Some("application/merge-patch+json"),
        json!({"metadata": {"labels": {"foo": "bar"}}}),
    )
    .await;
    for p in [
        "12-", "13-", "14-", "15-", "16-", "17-", "18-", "19-", "20-",
    ] {
        r.step(p).await;
    }
    // 20's notes: other writes are still allowed while terminating.
    let a = r
        .extra(
            "2026-11-22T13:59:10Z",
            "PATCH",
            &format!("{SSC}/alice-codecommit?fieldManager=ssc-operator"),
            Some("application/merge-patch+json"),
            json!({"spec": {"status": "Active"}}),
        )
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&a.body).unwrap()["metadata"]["generation"],
        4,
        "spec change while terminating bumps generation"
    );
    r.extra(
        "2026-11-22T13:59:10Z",
        "PATCH",
        &format!("{SSC}/alice-codecommit/status?fieldManager=ssc-operator"),
        Some("application/merge-patch+json"),
        json!({"status": {"phase": "Deleting"}}),
    )
    .await;
    r.step("21-").await;
    r.step("22-").await;
    // 23's notes: three CRs created with ?fieldManager=ssc-test just before.
    for (name, labels, spec) in [
        (
            "bob-bedrock",
            json!({"team": "platform"}),
            json!({"userName": "bob", "serviceName": "bedrock.amazonaws.com", "credentialAgeDays": 90}),
        ),
        (
            "carol-cassandra",
            json!({"team": "data"}),
            json!({"userName": "carol", "serviceName": "cassandra.amazonaws.com"}),
        ),
        (
            "dave-codecommit",
            json!({"team": "platform"}),
            json!({"userName": "dave", "serviceName": "codecommit.amazonaws.com"}),
        ),
    ] {
        r.extra(
            "2026-11-22T13:59:27Z",
            "POST",
            &format!("{SSC}?fieldManager=ssc-test"),
            Some("application/json"),
            ssc_body(name, labels, spec),
        )
        .await;
    }
    for p in ["23-", "24-", "25-"] {
        r.step(p).await;
    }
    // the third page of 25's notes: dave-codecommit, continue "", no remainingItemCount
    let tok = r
        .norm
        .tokens
        .values()
        .last()
        .cloned()
        .expect("continue token");
    let page3 = send(
        &r.server,
        "GET",
        &format!("{SSC}?limit=1&continue={tok}"),
        None,
        None,
        &[],
    )
    .await
    .json();
    let page3 = page3.to_json();
    assert_eq!(page3["items"][0]["metadata"]["name"], "dave-codecommit");
    assert_eq!(page3["metadata"]["continue"], "");
    assert!(page3["metadata"].get("remainingItemCount").is_none());

    watch_step(&mut r).await;
    too_old_watch_step(&mut r).await;
    r.server.compact();
    r.step("28-").await;
    for p in ["29-", "30-", "31-"] {
        r.step(p).await;
    }
    r.step("32-").await;
    let gone = wait_gone(
        &r.server,
        "/api/v1/namespaces/default/secrets/dave-cc-creds",
    )
    .await;
    assert!(
        gone < Duration::from_secs(1),
        "garbage collection took {gone:?}"
    );
    r.step("33-").await;
    wait_gone(
        &r.server,
        "/api/v1/namespaces/default/secrets/ghost-owned-creds",
    )
    .await;
    event_steps(&mut r).await;
    let lease = r.step("36-").await.json().to_json();
    // 37's notes: a renewal with the current resourceVersion succeeded first.
    let mut renew = lease.clone();
    renew["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("managedFields");
    renew["spec"]["renewTime"] = json!("2026-11-22T14:02:06.605297Z");
    r.extra(
        "2026-11-22T14:02:06Z",
        "PUT",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/ssc-operator-leader",
        Some("application/json"),
        renew,
    )
    .await;
    for p in ["37-", "38-", "39-", "40-", "41-"] {
        r.step(p).await;
    }
    r.norm
        .check_rv_order()
        .expect("resourceVersions increase as recorded");
}

/// 26: a watch from the list resourceVersion sees ADDED, MODIFIED, DELETED and two bookmarks.
async fn watch_step(r: &mut Replay) {
    let t = transcript("26-");
    r.server
        .set_time(step_time(&OValue::Null, t.events.as_ref()));
    let list = send(&r.server, "GET", SSC, None, None, &[])
        .await
        .json()
        .to_json();
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!(
        "{}{SSC}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=5",
        r.server.url()
    );
    let token = r.server.admin_token();
    let started = std::time::Instant::now();
    let watcher = tokio::spawn(async move {
        let resp = reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            .header("user-agent", UA)
            .send()
            .await
            .expect("watch");
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (status, ct, resp.text().await.expect("stream"))
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    r.extra(
        "2026-11-22T13:59:50Z",
        "POST",
        &format!("{SSC}?fieldManager=ssc-test"),
        Some("application/json"),
        ssc_body(
            "erin-watch",
            Value::Null,
            json!({"userName": "erin", "serviceName": "cassandra.amazonaws.com"}),
        ),
    )
    .await;
    r.extra(
        "2026-11-22T13:59:50Z",
        "PATCH",
        &format!("{SSC}/erin-watch/status?fieldManager=ssc-test"),
        Some("application/merge-patch+json"),
        json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Pending"}]}}),
    )
    .await;
    let del = r
        .extra(
            "2026-11-22T13:59:50Z",
            "DELETE",
            &format!("{SSC}/erin-watch"),
            None,
            Value::Null,
        )
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&del.body).unwrap()["status"],
        "Success"
    );
    let (status, ct, raw) = watcher.await.expect("watch task");
    let elapsed = started.elapsed();
    assert_eq!(status, 200);
    assert_eq!(ct, "application/json");
    assert!(
        elapsed >= Duration::from_secs(4) && elapsed < Duration::from_secs(8),
        "closed at timeoutSeconds, after {elapsed:?}"
    );
    assert!(raw.ends_with('\n'), "one JSON object per line: {raw:?}");
    let lines: Vec<OValue> = raw.lines().map(OValue::parse).collect();
    let expected_raw = t.body.as_str().expect("raw stream");
    let expected: Vec<OValue> = expected_raw.lines().map(OValue::parse).collect();
    assert_eq!(lines.len(), expected.len(), "watch lines: {raw}");
    for (i, (e, a)) in expected.iter().zip(lines.iter()).enumerate() {
        if let Err(err) = r.norm.cmp(e, a, &format!("line {i}"), "") {
            panic!("26: {err}\n{raw}");
        }
    }
}

/// 34/35: events.k8s.io Events, with generated names.
async fn event_steps(r: &mut Replay) {
    let re = regex::Regex::new("^ssc-operator-[bcdfghjklmnpqrstvwxz2456789]{5}$").unwrap();
    for (prefix, recorded) in [("34-", "ssc-operator-hkb9c"), ("35-", "ssc-operator-jrd2k")] {
        let t = transcript(prefix);
        if let Some(time) = step_time(&t.body, None) {
            r.server.set_time(Some(time));
        }
        let RequestParts {
            method,
            path,
            content_type: ct,
            body,
            headers,
        } = r.request_parts(&t);
        let ans = send(&r.server, &method, &path, ct.as_deref(), body, &headers).await;
        assert_eq!(ans.status, t.status, "{}: {}", t.file, ans.body);
        let v = ans.json().to_json();
        let generated = v["metadata"]["name"]
            .as_str()
            .or(v["details"]["name"].as_str())
            .expect("generated name")
            .to_string();
        assert!(re.is_match(&generated), "generated name {generated}");
        r.norm.names.insert(recorded.to_string(), generated);
        if let Err(e) = r.norm.cmp(&t.body, &ans.json(), "body", "") {
            panic!("{}: {e}\n{}", t.file, ans.body);
        }
    }
}

/// 27: a watch from a too-old resourceVersion: HTTP 200, one ERROR line, closed at once.
async fn too_old_watch_step(r: &mut Replay) {
    let t = transcript("27-");
    let RequestParts {
        method,
        path,
        headers,
        ..
    } = r.request_parts(&t);
    let started = std::time::Instant::now();
    let ans = send(&r.server, &method, &path, None, None, &headers).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "closed immediately, not at timeoutSeconds"
    );
    assert_eq!(ans.status, 200);
    assert_eq!(ans.content_type, "application/json");
    let lines: Vec<&str> = ans.body.lines().collect();
    assert_eq!(lines.len(), 1, "{}", ans.body);
    let expected = OValue::parse(t.body.as_str().expect("raw").trim_end());
    let actual = OValue::parse(lines[0]);
    let message = actual
        .get("object")
        .and_then(|o| o.get("message"))
        .and_then(OValue::as_str)
        .expect("message")
        .to_string();
    let re = regex::Regex::new(r"^too old resource version: 1 \((\d+)\)$").unwrap();
    let oldest: u64 = re
        .captures(&message)
        .unwrap_or_else(|| panic!("message {message}"))[1]
        .parse()
        .unwrap();
    let first = *r.norm.rvs.values().min().expect("mapped resourceVersions");
    assert!(
        oldest > 1 && oldest < first,
        "oldest revision {oldest} is before the first object ({first})"
    );
    let mut e = expected.to_json();
    e["object"]["message"] = json!(message);
    let e = OValue::parse(&serde_json::to_string(&e).unwrap());
    // key order is checked against the recorded line itself
    if let Err(err) = r
        .norm
        .cmp(&reorder_like(&expected, &e), &actual, "line 0", "")
    {
        panic!("27: {err}\n{}", ans.body);
    }
}

/// The client of the 2026-12-01 recordings (its managedFields entries say "Python-urllib").
const PY_UA: &str = "Python-urllib/3.12";

const REC_SECRETS: &str = "/api/v1/namespaces/rec/secrets";
const REC_SSC: &str =
    "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/rec/servicespecificcredentials";

fn basic_auth_secret(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "ssc-operator"}},
        "type": "kubernetes.io/basic-auth",
        "stringData": {"username": "alice-at-123456789012", "password": "p"},
    })
}

/// The uid of an answer's object, mapped to the recorded one (for steps that print it).
fn map_recorded_uid(r: &mut Replay, recorded: &str, ans: &Answer, at: &str) {
    let v = ans.json().to_json();
    let uid = v["metadata"]["uid"].as_str().expect("uid");
    r.norm
        .map_uid(recorded, uid, at)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The second recorded sequence (README "Added 2026-12-01"): namespace `rec`, its own uids and
/// resourceVersions, recorded with Python's urllib. The unrecorded set-up steps are the ones the
/// recorded answers imply (the objects they show, created by the same client at those times).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcripts_42_to_53_replay_in_order() {
    let mut r = Replay::with_user_agent(PY_UA).await;
    r.server.create_namespace("rec", &[]).await;
    // 42/43: a dry-run create answers the would-be object and stores nothing
    let dry = r.step("42-").await.json().to_json();
    assert!(dry["metadata"].get("resourceVersion").is_none());
    r.step("43-").await;
    // 44-46: validation (and the 1 MiB limit) runs in dry runs too
    for p in ["44-", "45-", "46-"] {
        r.step(p).await;
    }
    assert_eq!(
        get(&r.server, &format!("{REC_SECRETS}/dry-big")).await.0,
        404
    );
    // 47's Secret (shown in 51): immutable, created by the recording client
    let mut frozen = basic_auth_secret("frozen");
    frozen["immutable"] = json!(true);
    let a = r
        .extra(
            "2026-12-01T09:33:43Z",
            "POST",
            REC_SECRETS,
            Some("application/json"),
            frozen,
        )
        .await;
    map_recorded_uid(&mut r, "aa7577c3-0d32-4831-b961-56aa49fc8cfa", &a, "frozen");
    r.step("47-").await;
    r.step("48-").await;
    let (code, kept) = get(&r.server, &format!("{REC_SECRETS}/frozen")).await;
    assert_eq!(code, 200, "a failed precondition deletes nothing: {kept}");
    // 49's Secret: owned (controller reference) by a ServiceSpecificCredential
    let owner = r
        .extra(
            "2026-12-01T09:34:02Z",
            "POST",
            REC_SSC,
            Some("application/json"),
            ssc_body(
                "alice-rec",
                Value::Null,
                json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com"}),
            ),
        )
        .await
        .json()
        .to_json();
    let mut owned = basic_auth_secret("owned");
    owned["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
        "name": "alice-rec", "uid": owner["metadata"]["uid"], "controller": true,
        "blockOwnerDeletion": true,
    }]);
    r.extra(
        "2026-12-01T09:34:02Z",
        "POST",
        REC_SECRETS,
        Some("application/json"),
        owned,
    )
    .await;
    r.step("49-").await;
    // 50: the former owner is deleted; the garbage collector leaves the orphan alone
    r.extra(
        "2026-12-01T09:34:03Z",
        "DELETE",
        &format!("{REC_SSC}/alice-rec"),
        None,
        Value::Null,
    )
    .await;
    wait_gone(&r.server, &format!("{REC_SSC}/alice-rec")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    r.step("50-").await;
    // 51/52: metadata-only list and watch (kube-runtime's metadata_watcher)
    r.step("51-").await;
    let started = std::time::Instant::now();
    r.step("52-").await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
        "the watch ends at timeoutSeconds=2, after {took:?}"
    );
    // 53: namespace `term` is being deleted; a resource there still holds its finalizer
    r.server.create_namespace("term", &[]).await;
    let term_ssc = "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/term/servicespecificcredentials";
    let mut held = ssc_body(
        "held",
        Value::Null,
        json!({"userName": "held", "serviceName": "codecommit.amazonaws.com"}),
    );
    held["metadata"]["finalizers"] = json!(["iam.ssc-operator.dev/cleanup"]);
    r.extra(
        "2026-12-01T09:34:20Z",
        "POST",
        term_ssc,
        Some("application/json"),
        held,
    )
    .await;
    r.extra(
        "2026-12-01T09:34:20Z",
        "POST",
        "/api/v1/namespaces/term/secrets",
        Some("application/json"),
        basic_auth_secret("doomed"),
    )
    .await;
    let ns = r
        .extra(
            "2026-12-01T09:34:21Z",
            "DELETE",
            "/api/v1/namespaces/term",
            None,
            Value::Null,
        )
        .await
        .json()
        .to_json();
    assert_eq!(ns["status"]["phase"], "Terminating");
    // the namespace controller deletes the content; the finalizer keeps one object (and the
    // namespace) around
    wait_gone(&r.server, "/api/v1/namespaces/term/secrets/doomed").await;
    r.step("53-").await;
    // 53's notes: Events get the same 403 ...
    let (code, v) = post(
        &r.server,
        "/apis/events.k8s.io/v1/namespaces/term/events",
        json!({
            "metadata": {"name": "late-event"}, "eventTime": "2026-12-01T09:34:22.000000Z",
            "reason": "R", "action": "A", "type": "Normal", "reportingController": "ssc-operator",
            "reportingInstance": "i",
            "regarding": {"kind": "ServiceSpecificCredential", "namespace": "term", "name": "held"},
        }),
    )
    .await;
    assert_eq!(code, 403, "{v}");
    assert_eq!(
        v["message"],
        "events.events.k8s.io \"late-event\" is forbidden: unable to create new content in namespace term because it is being terminated"
    );
    assert_eq!(v["details"]["causes"][0]["reason"], "NamespaceTerminating");
    // ... and the resource with the finalizer can be read, patched and released
    let (code, v) = get(&r.server, &format!("{term_ssc}/held")).await;
    assert_eq!(code, 200);
    assert!(v["metadata"]["deletionTimestamp"].is_string(), "{v}");
    let (code, v) = merge(
        &r.server,
        &format!("{term_ssc}/held"),
        json!({"metadata": {"labels": {"x": "y"}}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(get(&r.server, "/api/v1/namespaces/term").await.0, 200);
    let (code, v) = merge(
        &r.server,
        &format!("{term_ssc}/held"),
        json!({"metadata": {"finalizers": null}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    wait_gone(&r.server, "/api/v1/namespaces/term").await;
    r.norm
        .check_rv_order()
        .expect("resourceVersions increase as recorded");
}

/// `v` with the key order of `like` (for values rebuilt through serde_json::Value).
fn reorder_like(like: &OValue, v: &OValue) -> OValue {
    match (like, v) {
        (OValue::Object(l), OValue::Object(m)) => OValue::Object(
            l.iter()
                .filter_map(|(k, lv)| {
                    m.iter()
                        .find(|(mk, _)| mk == k)
                        .map(|(_, mv)| (k.clone(), reorder_like(lv, mv)))
                })
                .collect(),
        ),
        _ => v.clone(),
    }
}

// -------------------------------------------------------------------------------------------------
// Focused behaviour tests (raw HTTP)
// -------------------------------------------------------------------------------------------------

async fn call(
    server: &ApiServer,
    method: &str,
    path: &str,
    ct: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let body = if body.is_null() {
        None
    } else {
        Some(body.to_string())
    };
    let a = send(server, method, path, ct, body, &[]).await;
    let v = serde_json::from_str(&a.body).unwrap_or_else(|_| Value::String(a.body.clone()));
    (a.status, v)
}

async fn post(server: &ApiServer, path: &str, body: Value) -> (u16, Value) {
    call(server, "POST", path, Some("application/json"), body).await
}

async fn get(server: &ApiServer, path: &str) -> (u16, Value) {
    call(server, "GET", path, None, Value::Null).await
}

async fn merge(server: &ApiServer, path: &str, body: Value) -> (u16, Value) {
    call(
        server,
        "PATCH",
        path,
        Some("application/merge-patch+json"),
        body,
    )
    .await
}

fn alice() -> Value {
    ssc_body(
        "alice",
        json!({"team": "platform"}),
        json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com"}),
    )
}

async fn ssc_server() -> ApiServer {
    ApiServer::start(vec![crd()]).await
}

fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .parse()
        .expect("numeric resourceVersion")
}

#[tokio::test]
async fn status_subresource_split_and_generation() {
    let s = ssc_server().await;
    let (code, created) = post(&s, SSC, alice()).await;
    assert_eq!(code, 201);
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(
        created["spec"]["status"], "Active",
        "schema default applied on create"
    );
    // metadata-only change: generation stays, resourceVersion moves
    let (_, v) = merge(
        &s,
        &format!("{SSC}/alice"),
        json!({"metadata": {"labels": {"env": "test"}}}),
    )
    .await;
    assert_eq!(v["metadata"]["generation"], 1);
    assert!(rv(&v) > rv(&created));
    // main resource: .status is dropped, spec change bumps generation
    let (code, v) = merge(
        &s,
        &format!("{SSC}/alice"),
        json!({"spec": {"status": "Inactive"}, "status": {"phase": "Hacked"}}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(v["metadata"]["generation"], 2);
    assert!(
        v.get("status").is_none(),
        "status written through the main resource: {v}"
    );
    // /status: only .status is kept (spec, labels, finalizers dropped), generation kept
    let (code, v) = merge(
        &s,
        &format!("{SSC}/alice/status"),
        json!({"spec": {"userName": "mallory"}, "metadata": {"labels": {"x": "y"}, "finalizers": ["a.b/c"]}, "status": {"observedGeneration": 2}}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(v["status"]["observedGeneration"], 2);
    assert_eq!(v["spec"]["userName"], "alice");
    assert!(v["metadata"]["labels"].get("x").is_none());
    assert!(v["metadata"].get("finalizers").is_none());
    assert_eq!(v["metadata"]["generation"], 2);
    // PUT on the main resource keeps the stored status
    let mut put = v.clone();
    put["status"] = json!({"observedGeneration": 99});
    put["spec"]["status"] = json!("Active");
    let (code, v) = call(
        &s,
        "PUT",
        &format!("{SSC}/alice"),
        Some("application/json"),
        put,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(v["status"]["observedGeneration"], 2);
    assert_eq!(v["metadata"]["generation"], 3);
    // a no-op write does not create a revision
    let before = s.revision();
    let (code, same) = merge(
        &s,
        &format!("{SSC}/alice"),
        json!({"spec": {"status": "Active"}}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(rv(&same), rv(&v));
    assert_eq!(s.revision(), before, "no-op patch must not write");
}

#[tokio::test]
async fn optimistic_concurrency() {
    let s = ssc_server().await;
    let (_, created) = post(&s, SSC, alice()).await;
    // PUT without resourceVersion: 422 with the plural kind (custom resources)
    let mut body = created.clone();
    body["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let (code, v) = call(
        &s,
        "PUT",
        &format!("{SSC}/alice"),
        Some("application/json"),
        body,
    )
    .await;
    assert_eq!(code, 422, "{v}");
    assert_eq!(
        v["message"],
        "servicespecificcredentials.iam.ssc-operator.dev \"alice\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    );
    assert_eq!(v["details"]["kind"], "servicespecificcredentials");
    // stale resourceVersion inside a merge patch: 409 Conflict
    merge(
        &s,
        &format!("{SSC}/alice"),
        json!({"metadata": {"labels": {"a": "b"}}}),
    )
    .await;
    let stale = created["metadata"]["resourceVersion"].clone();
    let (code, v) = merge(
        &s,
        &format!("{SSC}/alice"),
        json!({"metadata": {"resourceVersion": stale}, "spec": {"status": "Inactive"}}),
    )
    .await;
    assert_eq!(code, 409);
    assert_eq!(v["reason"], "Conflict");
    // ... and in a json patch
    let (code, _) = call(
        &s,
        "PATCH",
        &format!("{SSC}/alice"),
        Some("application/json-patch+json"),
        json!([{"op": "replace", "path": "/metadata/resourceVersion", "value": stale}]),
    )
    .await;
    assert_eq!(code, 409);
    // the status subresource checks a resourceVersion in the patch too (before its strategy
    // resets metadata): the operator's status writes are fenced this way
    let (_, current) = get(&s, &format!("{SSC}/alice")).await;
    let (code, v) = merge(
        &s,
        &format!("{SSC}/alice/status"),
        json!({"metadata": {"resourceVersion": stale}, "status": {"observedGeneration": 1}}),
    )
    .await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(
        v["message"],
        "Operation cannot be fulfilled on servicespecificcredentials.iam.ssc-operator.dev \"alice\": the object has been modified; please apply your changes to the latest version and try again"
    );
    // a fence with the current resourceVersion and no change is a no-op: no new version
    let (code, v) = merge(
        &s,
        &format!("{SSC}/alice/status"),
        json!({"metadata": {"resourceVersion": current["metadata"]["resourceVersion"]}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(rv(&v), rv(&current));
    // Secrets allow unconditional updates; Leases do not
    let (code, _) = post(
        &s,
        "/api/v1/namespaces/default/secrets",
        json!({"metadata": {"name": "s"}, "stringData": {"a": "b"}}),
    )
    .await;
    assert_eq!(code, 201);
    let (code, v) = call(
        &s,
        "PUT",
        "/api/v1/namespaces/default/secrets/s",
        Some("application/json"),
        json!({"metadata": {"name": "s"}, "stringData": {"a": "c"}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["a"], "Yw==");
    let lease = json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}});
    let (code, _) = post(
        &s,
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        lease.clone(),
    )
    .await;
    assert_eq!(code, 201);
    let (code, v) = call(
        &s,
        "PUT",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/l",
        Some("application/json"),
        lease,
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(v["details"]["kind"], "leases");
    assert_eq!(v["details"]["group"], "coordination.k8s.io");
}

#[tokio::test]
async fn validation_messages() {
    let s = ssc_server().await;
    // invalid name
    let (code, v) = post(
        &s,
        SSC,
        ssc_body(
            "Bad_Name",
            Value::Null,
            json!({"userName": "a", "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(v["details"]["causes"][0]["field"], "metadata.name");
    assert!(
        v["details"]["causes"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain")
    );
    // maxLength (blocking: CEL skipped), minimum, type
    let long = "a".repeat(65);
    let (code, v) = post(
        &s,
        SSC,
        ssc_body(
            "x",
            Value::Null,
            json!({"userName": long, "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["details"]["causes"][0],
        json!({"reason": "FieldValueTooLong", "message": "Too long: may not be longer than 64", "field": "spec.userName"})
    );
    assert_eq!(v["details"]["causes"][1]["field"], "<nil>");
    let (_, v) = post(&s, SSC, ssc_body("x", Value::Null, json!({"userName": "a", "serviceName": "bedrock.amazonaws.com", "credentialAgeDays": 0}))).await;
    assert_eq!(
        v["details"]["causes"][0],
        json!({"reason": "FieldValueInvalid", "message": "Invalid value: 0: spec.credentialAgeDays in body should be greater than or equal to 1", "field": "spec.credentialAgeDays"})
    );
    let (_, v) = post(&s, SSC, ssc_body("x", Value::Null, json!({"userName": "a", "serviceName": "bedrock.amazonaws.com", "credentialAgeDays": "7"}))).await;
    assert_eq!(v["details"]["causes"][0]["reason"], "FieldValueTypeInvalid");
    assert_eq!(
        v["details"]["causes"][0]["message"],
        "Invalid value: \"string\": spec.credentialAgeDays in body must be of type integer: \"string\""
    );
    // \w is ASCII-only (Go RE2): a non-ASCII letter does not match
    let (code, _) = post(
        &s,
        SSC,
        ssc_body(
            "x",
            Value::Null,
            json!({"userName": "jos\u{e9}", "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    assert_eq!(code, 422);
    // the CEL rule allows credentialAgeDays on bedrock; unknown fields are pruned with a warning
    let a = send(
        &s,
        "POST",
        SSC,
        Some("application/json"),
        Some(ssc_body("y", Value::Null, json!({"userName": "a", "serviceName": "bedrock.amazonaws.com", "credentialAgeDays": 7, "bogus": 1})).to_string()),
        &[],
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert!(!a.body.contains("bogus"));
    // strict field validation rejects unknown fields
    let (code, v) = post(
        &s,
        &format!("{SSC}?fieldValidation=Strict"),
        ssc_body(
            "z",
            Value::Null,
            json!({"userName": "a", "serviceName": "bedrock.amazonaws.com", "bogus": 1}),
        ),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        v["message"],
        "strict decoding error: unknown field \"spec.bogus\""
    );
    // namespace must exist
    let (code, v) = post(
        &s,
        "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/nope/servicespecificcredentials",
        alice(),
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(v["message"], "namespaces \"nope\" not found");
    assert_eq!(v["details"], json!({"name": "nope", "kind": "namespaces"}));
    // fieldManager is at most 128 bytes
    let (code, v) = post(
        &s,
        &format!("{SSC}?fieldManager={}", "m".repeat(129)),
        alice(),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["message"],
        "CreateOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: must have at most 128 bytes"
    );
    // resourceVersion must not be set on create
    let mut b = alice();
    b["metadata"]["resourceVersion"] = json!("5");
    let (code, v) = post(&s, SSC, b).await;
    assert_eq!(code, 500);
    assert_eq!(
        v["message"],
        "resourceVersion should not be set on objects to be created"
    );
    assert!(v.get("reason").is_none());
}

#[tokio::test]
async fn patch_types_and_apply() {
    let s = ssc_server().await;
    post(&s, SSC, alice()).await;
    // strategic merge patch is not supported for custom resources
    let (code, v) = call(
        &s,
        "PATCH",
        &format!("{SSC}/alice"),
        Some("application/strategic-merge-patch+json"),
        json!({}),
    )
    .await;
    assert_eq!(code, 415);
    assert_eq!(
        v["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
    // apply needs a fieldManager
    let a = send(
        &s,
        "PATCH",
        &format!("{SSC}/alice"),
        Some("application/apply-patch+yaml"),
        Some("apiVersion: iam.ssc-operator.dev/v1alpha1\nkind: ServiceSpecificCredential\n".into()),
        &[],
    )
    .await;
    assert_eq!(a.status, 422);
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        v["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    assert_eq!(
        v["details"],
        json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]})
    );
    // apply needs apiVersion and kind
    let a = send(
        &s,
        "PATCH",
        &format!("{SSC}/alice?fieldManager=x"),
        Some("application/apply-patch+yaml"),
        Some("spec:\n  status: Inactive\n".into()),
        &[],
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(
        a.body.contains("invalid object type: /, Kind="),
        "{}",
        a.body
    );
    // apply creates, then owns; another manager conflicts unless forced
    let cfg = "apiVersion: iam.ssc-operator.dev/v1alpha1\nkind: ServiceSpecificCredential\nmetadata:\n  name: bob\nspec:\n  userName: bob\n  serviceName: cassandra.amazonaws.com\n";
    let a = send(
        &s,
        "PATCH",
        &format!("{SSC}/bob?fieldManager=gitops"),
        Some("application/apply-patch+yaml"),
        Some(cfg.into()),
        &[],
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let other = "apiVersion: iam.ssc-operator.dev/v1alpha1\nkind: ServiceSpecificCredential\nmetadata:\n  name: bob\nspec:\n  status: Inactive\n";
    let a = send(
        &s,
        "PATCH",
        &format!("{SSC}/bob?fieldManager=other"),
        Some("application/apply-patch+yaml"),
        Some(other.into()),
        &[],
    )
    .await;
    assert_eq!(
        a.status, 200,
        "spec.status was defaulted, not owned by gitops: {}",
        a.body
    );
    let mine = "apiVersion: iam.ssc-operator.dev/v1alpha1\nkind: ServiceSpecificCredential\nmetadata:\n  name: bob\nspec:\n  userName: bob\n  serviceName: cassandra.amazonaws.com\n  status: Active\n";
    let a = send(
        &s,
        "PATCH",
        &format!("{SSC}/bob?fieldManager=gitops"),
        Some("application/apply-patch+yaml"),
        Some(mine.into()),
        &[],
    )
    .await;
    assert_eq!(a.status, 409, "{}", a.body);
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        v["message"],
        "Apply failed with 1 conflict: conflict with \"other\": .spec.status"
    );
    let a = send(
        &s,
        "PATCH",
        &format!("{SSC}/bob?fieldManager=gitops&force=true"),
        Some("application/apply-patch+yaml"),
        Some(mine.into()),
        &[],
    )
    .await;
    assert_eq!(a.status, 200);
    // a failing json-patch test is a generic 422
    let (code, v) = call(
        &s,
        "PATCH",
        &format!("{SSC}/bob"),
        Some("application/json-patch+json"),
        json!([{"op": "test", "path": "/spec/userName", "value": "zed"}]),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(v["details"], json!({}));
    // an undecodable json patch is a 400
    let (code, _) = call(
        &s,
        "PATCH",
        &format!("{SSC}/bob"),
        Some("application/json-patch+json"),
        json!({"op": "add"}),
    )
    .await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn finalizers_and_deletion() {
    let s = ssc_server().await;
    let mut b = alice();
    b["metadata"]["finalizers"] = json!(["iam.ssc-operator.dev/cleanup"]);
    let (_, created) = post(&s, SSC, b).await;
    let (code, v) = call(&s, "DELETE", &format!("{SSC}/alice"), None, Value::Null).await;
    assert_eq!(code, 200);
    assert_eq!(
        v["kind"], "ServiceSpecificCredential",
        "the object, not a Status"
    );
    assert_eq!(v["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(v["metadata"]["generation"], 2);
    assert!(v["metadata"]["deletionTimestamp"].is_string());
    // deleting again: same object, no write
    let before = s.revision();
    let (code, again) = call(&s, "DELETE", &format!("{SSC}/alice"), None, Value::Null).await;
    assert_eq!(code, 200);
    assert_eq!(again, v);
    assert_eq!(s.revision(), before);
    // no new finalizers while terminating (reported twice, like the real server)
    let (code, e) = call(
        &s,
        "PATCH",
        &format!("{SSC}/alice"),
        Some("application/json-patch+json"),
        json!([{"op": "add", "path": "/metadata/finalizers/-", "value": "x.io/y"}]),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(e["details"]["causes"].as_array().unwrap().len(), 2);
    // removing the last finalizer deletes in the same request
    let (code, v) = call(
        &s,
        "PATCH",
        &format!("{SSC}/alice"),
        Some("application/json-patch+json"),
        json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "iam.ssc-operator.dev/cleanup"}, {"op": "remove", "path": "/metadata/finalizers/0"}]),
    )
    .await;
    assert_eq!(code, 200);
    assert!(v["metadata"].get("finalizers").is_none());
    assert_eq!(get(&s, &format!("{SSC}/alice")).await.0, 404);
    // delete preconditions
    let (_, bob) = post(
        &s,
        SSC,
        ssc_body(
            "bob",
            Value::Null,
            json!({"userName": "bob", "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    let (code, v) = call(
        &s,
        "DELETE",
        &format!("{SSC}/bob"),
        Some("application/json"),
        json!({"preconditions": {"uid": created["metadata"]["uid"]}}),
    )
    .await;
    assert_eq!(code, 409);
    // rest.BeforeDelete names the Kind (48 shows it for a Secret)
    assert_eq!(
        v["message"],
        format!(
            "Operation cannot be fulfilled on ServiceSpecificCredential.iam.ssc-operator.dev \"bob\": the UID in the precondition ({}) does not match the UID in record ({}). The object might have been deleted and then recreated",
            created["metadata"]["uid"].as_str().unwrap(),
            bob["metadata"]["uid"].as_str().unwrap()
        )
    );
    assert_eq!(
        v["details"],
        json!({"name": "bob", "group": "iam.ssc-operator.dev", "kind": "ServiceSpecificCredential"})
    );
    let (code, v) = call(
        &s,
        "DELETE",
        &format!("{SSC}/bob"),
        Some("application/json"),
        json!({"preconditions": {"resourceVersion": "1"}}),
    )
    .await;
    assert_eq!(code, 409);
    assert_eq!(
        v["message"],
        format!(
            "Operation cannot be fulfilled on ServiceSpecificCredential.iam.ssc-operator.dev \"bob\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({}). The object might have been modified",
            bob["metadata"]["resourceVersion"].as_str().unwrap()
        )
    );
    let (code, v) = call(&s, "DELETE", &format!("{SSC}/bob"), Some("application/json"), json!({"preconditions": {"uid": bob["metadata"]["uid"], "resourceVersion": bob["metadata"]["resourceVersion"]}})).await;
    assert_eq!(code, 200);
    assert_eq!(v["status"], "Success");
    assert_eq!(v["details"]["uid"], bob["metadata"]["uid"]);
    // foreground deletion waits for dependents via the foregroundDeletion finalizer
    let (_, carol) = post(
        &s,
        SSC,
        ssc_body(
            "carol",
            Value::Null,
            json!({"userName": "carol", "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    let (code, _) = post(
        &s,
        "/api/v1/namespaces/default/secrets",
        json!({"metadata": {"name": "carol-dep", "ownerReferences": [owner_ref(&carol, true)]}}),
    )
    .await;
    assert_eq!(code, 201);
    let (code, v) = call(
        &s,
        "DELETE",
        &format!("{SSC}/carol"),
        Some("application/json"),
        json!({"propagationPolicy": "Foreground"}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(v["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    wait_gone(&s, "/api/v1/namespaces/default/secrets/carol-dep").await;
    wait_gone(&s, &format!("{SSC}/carol")).await;
}

fn owner_ref(owner: &Value, block: bool) -> Value {
    json!({
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": block,
    })
}

#[tokio::test]
async fn garbage_collection() {
    let s = ssc_server().await;
    let secrets = "/api/v1/namespaces/default/secrets";
    let (_, owner) = post(&s, SSC, alice()).await;
    // owner only terminating (finalizer): dependents stay
    let mut b = ssc_body(
        "fin",
        Value::Null,
        json!({"userName": "f", "serviceName": "codecommit.amazonaws.com"}),
    );
    b["metadata"]["finalizers"] = json!(["x.io/keep"]);
    let (_, fin) = post(&s, SSC, b).await;
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "a", "ownerReferences": [owner_ref(&owner, true)]}}),
    )
    .await;
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "f", "ownerReferences": [owner_ref(&fin, true)]}}),
    )
    .await;
    // two owners, one of them missing: the dangling reference is removed, the object kept
    let mut ghost = owner_ref(&owner, false);
    ghost["uid"] = json!("00000000-0000-4000-8000-000000000009");
    ghost["name"] = json!("ghost");
    ghost["controller"] = json!(false);
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "two", "ownerReferences": [owner_ref(&fin, false), ghost]}}),
    )
    .await;
    call(&s, "DELETE", &format!("{SSC}/fin"), None, Value::Null).await;
    call(&s, "DELETE", &format!("{SSC}/alice"), None, Value::Null).await;
    wait_gone(&s, &format!("{secrets}/a")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        get(&s, &format!("{secrets}/f")).await.0,
        200,
        "owner terminating with finalizers does not trigger GC"
    );
    let (_, two) = get(&s, &format!("{secrets}/two")).await;
    assert_eq!(
        two["metadata"]["ownerReferences"].as_array().map(Vec::len),
        Some(1),
        "{two}"
    );
    // an owner with the right name but another uid does not count
    let mut wrong = owner_ref(&fin, true);
    wrong["uid"] = json!("11111111-0000-4000-8000-000000000000");
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "w", "ownerReferences": [wrong]}}),
    )
    .await;
    wait_gone(&s, &format!("{secrets}/w")).await;

    // without the garbage collector dependents stay forever
    let s = ApiServer::start_with(ApiServerConfig {
        crds: vec![crd()],
        gc: false,
        ..ApiServerConfig::default()
    })
    .await;
    let (_, owner) = post(&s, SSC, alice()).await;
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "a", "ownerReferences": [owner_ref(&owner, true)]}}),
    )
    .await;
    call(&s, "DELETE", &format!("{SSC}/alice"), None, Value::Null).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(get(&s, &format!("{secrets}/a")).await.0, 200);
}

#[tokio::test]
async fn list_selectors_paging_and_resource_versions() {
    let s = ssc_server().await;
    s.create_namespace("team-a", &[]).await;
    let mk = |name: &str, team: Option<&str>| {
        let labels = team.map_or(Value::Null, |t| json!({"team": t}));
        ssc_body(
            name,
            labels,
            json!({"userName": name, "serviceName": "codecommit.amazonaws.com"}),
        )
    };
    post(&s, SSC, mk("c", Some("platform"))).await;
    post(&s, SSC, mk("a", Some("data"))).await;
    post(&s, SSC, mk("b", None)).await;
    post(
        &s,
        "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/team-a/servicespecificcredentials",
        mk("a", Some("platform")),
    )
    .await;
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                format!(
                    "{}/{}",
                    i["metadata"]["namespace"].as_str().unwrap(),
                    i["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    for (sel, expected) in [
        ("team%3Dplatform", vec!["default/c"]),
        ("team!%3Dplatform", vec!["default/a", "default/b"]),
        (
            "team%20in%20(data,platform)",
            vec!["default/a", "default/c"],
        ),
        ("team%20notin%20(data)", vec!["default/b", "default/c"]),
        ("team", vec!["default/a", "default/c"]),
        ("!team", vec!["default/b"]),
        ("team%3Dnobody", vec![]),
    ] {
        let (code, v) = get(&s, &format!("{SSC}?labelSelector={sel}")).await;
        assert_eq!(code, 200);
        assert_eq!(names(&v), expected, "selector {sel}");
        assert!(v["items"].is_array(), "items is [] when empty");
    }
    let (_, v) = get(&s, &format!("{SSC}?fieldSelector=metadata.name%3Da")).await;
    assert_eq!(names(&v), vec!["default/a"]);
    let (code, _) = get(&s, &format!("{SSC}?fieldSelector=spec.userName%3Da")).await;
    assert_eq!(code, 400);
    let (code, _) = get(&s, &format!("{SSC}?labelSelector=%3D%3D")).await;
    assert_eq!(code, 400);
    // cluster-wide list: sorted by namespace then name; continue keys are namespace/name
    let (_, all) = get(
        &s,
        "/apis/iam.ssc-operator.dev/v1alpha1/servicespecificcredentials?limit=3",
    )
    .await;
    assert_eq!(names(&all), vec!["default/a", "default/b", "default/c"]);
    assert_eq!(all["metadata"]["remainingItemCount"], 1);
    let tok = all["metadata"]["continue"].as_str().unwrap().to_string();
    assert_eq!(decode_token(&tok)["start"], "default/c\u{0}");
    // pages come from the snapshot of the first page
    post(&s, SSC, mk("d", None)).await;
    let (_, rest) = get(
        &s,
        &format!(
            "/apis/iam.ssc-operator.dev/v1alpha1/servicespecificcredentials?limit=3&continue={tok}"
        ),
    )
    .await;
    assert_eq!(names(&rest), vec!["team-a/a"]);
    assert_eq!(
        rest["metadata"]["resourceVersion"],
        all["metadata"]["resourceVersion"]
    );
    assert_eq!(rest["metadata"]["continue"], "");
    let (code, v) = get(&s, &format!("{SSC}?limit=1&continue=garbage")).await;
    assert_eq!(code, 400);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid continue token")
    );
    // exact reads at an older revision; 410 after compaction
    let old_rv = all["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, v) = get(
        &s,
        &format!("{SSC}?resourceVersion={old_rv}&resourceVersionMatch=Exact"),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        names(&v),
        vec!["default/a", "default/b", "default/c"],
        "the state at that revision (no d)"
    );
    s.compact();
    let (code, v) = get(
        &s,
        &format!("{SSC}?resourceVersion={old_rv}&resourceVersionMatch=Exact"),
    )
    .await;
    assert_eq!(code, 410);
    assert_eq!(v["reason"], "Expired");
    let (code, _) = get(&s, &format!("{SSC}?limit=3&continue={tok}")).await;
    assert_eq!(code, 410);
    // resourceVersion=0 ignores limit
    let (_, v) = get(&s, &format!("{SSC}?resourceVersion=0&limit=1")).await;
    assert_eq!(names(&v).len(), 4);
    // list option validation, built-in list shape
    let (code, v) = get(&s, &format!("{SSC}?resourceVersionMatch=Exact")).await;
    assert_eq!(code, 422);
    assert_eq!(v["details"]["kind"], "ListOptions");
    let a = send(&s, "GET", "/api/v1/namespaces", None, None, &[]).await;
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert!(
        a.body.starts_with(
            "{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
        ),
        "{}",
        a.body
    );
    assert!(
        v["items"][0].get("kind").is_none(),
        "built-in list items carry no kind"
    );
    assert!(v["metadata"].get("continue").is_none());
}

#[tokio::test]
async fn watch_semantics() {
    let s = ssc_server().await;
    let secrets = "/api/v1/namespaces/default/secrets";
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "pre", "labels": {"app": "x"}}}),
    )
    .await;
    let rv0 = s.revision();
    // collect a watch for `secs` seconds
    async fn watch(
        s: &ApiServer,
        query: &str,
        secs: u64,
        during: impl std::future::Future<Output = ()>,
    ) -> Vec<Value> {
        let url = format!(
            "{}/api/v1/namespaces/default/secrets?watch=true&timeoutSeconds={secs}&{query}",
            s.url()
        );
        let token = s.admin_token();
        let h = tokio::spawn(async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        during.await;
        h.await
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    let summary = |evs: &[Value]| -> Vec<String> {
        evs.iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["type"].as_str().unwrap(),
                    e["object"]["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    // resourceVersion=0: synthetic ADDED for what exists
    let evs = watch(&s, "resourceVersion=0", 1, async {}).await;
    assert_eq!(summary(&evs), vec!["ADDED pre"]);
    // a label-selected watch: objects entering/leaving the selection are ADDED/DELETED
    let evs = watch(
        &s,
        &format!("resourceVersion={rv0}&labelSelector=app%3Dx"),
        2,
        async {
            post(&s, secrets, json!({"metadata": {"name": "other"}})).await;
            merge(
                &s,
                &format!("{secrets}/other"),
                json!({"metadata": {"labels": {"app": "x"}}}),
            )
            .await;
            merge(
                &s,
                &format!("{secrets}/pre"),
                json!({"metadata": {"labels": {"app": "y"}}}),
            )
            .await;
            merge(
                &s,
                &format!("{secrets}/other"),
                json!({"data": {"k": "dg=="}}),
            )
            .await;
            call(&s, "DELETE", &format!("{secrets}/other"), None, Value::Null).await;
        },
    )
    .await;
    assert_eq!(
        summary(&evs),
        vec![
            "ADDED other",
            "DELETED pre",
            "MODIFIED other",
            "DELETED other"
        ]
    );
    let deleted_rv: u64 = evs[3]["object"]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let modified_rv: u64 = evs[2]["object"]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        deleted_rv > modified_rv,
        "DELETED carries a new resourceVersion"
    );
    assert_eq!(
        evs[1]["object"]["metadata"]["labels"]["app"], "x",
        "DELETED on leaving the selection shows the previous state"
    );
    assert_eq!(
        evs[0]["object"]["kind"], "Secret",
        "watch objects carry kind/apiVersion"
    );
    // bookmarks only when asked for, never when idle
    let evs = watch(
        &s,
        &format!("resourceVersion={}&allowWatchBookmarks=true", s.revision()),
        3,
        async {},
    )
    .await;
    assert!(evs.is_empty(), "idle watch: {evs:?}");
    // too old: one ERROR event
    let evs = watch(&s, "resourceVersion=1", 5, async {}).await;
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["type"], "ERROR");
    assert_eq!(evs[0]["object"]["code"], 410);
    // compaction (a reset watch cache) ends live watches
    let started = std::time::Instant::now();
    let evs = watch(
        &s,
        &format!("resourceVersion={}", s.revision()),
        30,
        async { s.compact() },
    )
    .await;
    assert!(
        evs.is_empty() && started.elapsed() < Duration::from_secs(5),
        "{evs:?}"
    );
    // sendInitialEvents is off in 1.28
    let (code, v) = get(
        &s,
        &format!("{secrets}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"),
    )
    .await;
    assert_eq!(code, 422, "{v}");
}

#[tokio::test]
async fn secrets_events_leases_namespaces() {
    let s = ssc_server().await;
    let secrets = "/api/v1/namespaces/default/secrets";
    let (code, v) = post(
        &s,
        secrets,
        json!({"metadata": {"name": "b64"}, "data": {"k": "not base64!"}}),
    )
    .await;
    assert_eq!(code, 400, "{v}");
    let (code, v) = post(
        &s,
        secrets,
        json!({"metadata": {"name": "key"}, "stringData": {"bad key": "v"}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(v["details"]["causes"][0]["field"], "data[bad key]");
    let big = "x".repeat(1024 * 1024 + 1);
    let (code, v) = post(
        &s,
        secrets,
        json!({"metadata": {"name": "big"}, "stringData": {"k": big}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["details"]["causes"][0],
        json!({"reason": "FieldValueTooLong", "message": "Too long: must have at most 1048576 bytes", "field": "data"})
    );
    // only password is enough for basic-auth
    let (code, _) = post(&s, secrets, json!({"metadata": {"name": "pw"}, "type": "kubernetes.io/basic-auth", "stringData": {"password": "p"}})).await;
    assert_eq!(code, 201);
    let (code, v) = merge(&s, &format!("{secrets}/pw"), json!({"type": "Opaque"})).await;
    assert_eq!(code, 422);
    assert_eq!(
        v["details"]["causes"][0]["message"],
        "Invalid value: \"Opaque\": field is immutable"
    );
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "frozen"}, "immutable": true, "stringData": {"a": "b"}}),
    )
    .await;
    let (code, v) = merge(
        &s,
        &format!("{secrets}/frozen"),
        json!({"stringData": {"a": "c"}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["details"]["causes"][0],
        json!({"reason": "FieldValueForbidden", "message": "Forbidden: field is immutable when `immutable` is set", "field": "data"})
    );
    // events.k8s.io: Recorder-style series patch; immutable fields
    let ev = json!({
        "metadata": {"name": "e1"}, "eventTime": "2026-11-22T14:01:53.934194Z", "reason": "R", "action": "A",
        "type": "Normal", "reportingController": "ssc-operator", "reportingInstance": "i",
        "regarding": {"kind": "ServiceSpecificCredential", "namespace": "default", "name": "x"}
    });
    let (code, v) = post(
        &s,
        "/apis/events.k8s.io/v1/namespaces/default/events",
        ev.clone(),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    let (code, v) = merge(
        &s,
        "/apis/events.k8s.io/v1/namespaces/default/events/e1",
        json!({"series": {"count": 2, "lastObservedTime": "2026-11-22T14:02:00.000000Z"}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["series"]["count"], 2);
    let (code, _) = merge(
        &s,
        "/apis/events.k8s.io/v1/namespaces/default/events/e1",
        json!({"series": {"count": 1, "lastObservedTime": "2026-11-22T14:02:00.000000Z"}}),
    )
    .await;
    assert_eq!(code, 422);
    let (code, _) = merge(
        &s,
        "/apis/events.k8s.io/v1/namespaces/default/events/e1",
        json!({"reason": "Other"}),
    )
    .await;
    assert_eq!(code, 422);
    let mut bad = ev.clone();
    bad["metadata"]["name"] = json!("e2");
    bad["eventTime"] = json!("2026-11-22T14:01:53Z");
    let (code, _) = post(&s, "/apis/events.k8s.io/v1/namespaces/default/events", bad).await;
    assert_eq!(code, 400, "MicroTime needs six fractional digits");
    // leases
    let (code, v) = post(
        &s,
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        json!({"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["details"]["causes"][0]["message"],
        "Invalid value: 0: must be greater than 0"
    );
    let (code, v) = call(
        &s,
        "DELETE",
        "/api/v1/namespaces/default",
        None,
        Value::Null,
    )
    .await;
    assert_eq!(code, 403);
    assert_eq!(
        v["message"],
        "namespaces \"default\" is forbidden: this namespace may not be deleted"
    );
    // namespaces: annotations, terminating namespaces refuse new content
    s.create_namespace("team-b", &[("iam.ssc-operator.dev/allowed-users", "bob*")])
        .await;
    let (_, ns) = get(&s, "/api/v1/namespaces/team-b").await;
    assert_eq!(
        ns["metadata"]["annotations"]["iam.ssc-operator.dev/allowed-users"],
        "bob*"
    );
    assert_eq!(
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "team-b"
    );
    assert_eq!(ns["status"]["phase"], "Active");
    let mut b = ssc_body(
        "keep",
        Value::Null,
        json!({"userName": "k", "serviceName": "codecommit.amazonaws.com"}),
    );
    b["metadata"]["finalizers"] = json!(["x.io/keep"]);
    post(
        &s,
        "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/team-b/servicespecificcredentials",
        b,
    )
    .await;
    let (code, v) = call(&s, "DELETE", "/api/v1/namespaces/team-b", None, Value::Null).await;
    assert_eq!(code, 200);
    assert_eq!(v["status"]["phase"], "Terminating");
    let (code, v) = post(
        &s,
        "/api/v1/namespaces/team-b/secrets",
        json!({"metadata": {"name": "late"}}),
    )
    .await;
    assert_eq!(code, 403);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("because it is being terminated")
    );
    // the namespace controller marks the content deleting; the namespace waits for the finalizer
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, keep) = get(
        &s,
        "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/team-b/servicespecificcredentials/keep",
    )
    .await;
    assert!(keep["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(get(&s, "/api/v1/namespaces/team-b").await.0, 200);
    merge(
        &s,
        "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/team-b/servicespecificcredentials/keep",
        json!({"metadata": {"finalizers": null}}),
    )
    .await;
    wait_gone(&s, "/api/v1/namespaces/team-b").await;
}

#[tokio::test]
async fn dry_run_writes_store_nothing() {
    let s = ssc_server().await;
    let secrets = "/api/v1/namespaces/default/secrets";
    let start = s.revision();
    // create with generateName: the would-be name, uid and creationTimestamp, no resourceVersion
    let (code, v) = post(
        &s,
        &format!("{secrets}?dryRun=All"),
        json!({"metadata": {"generateName": "gen-"}, "stringData": {"k": "v"}}),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    let name = v["metadata"]["name"].as_str().unwrap();
    assert!(
        regex::Regex::new("^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$")
            .unwrap()
            .is_match(name),
        "{name}"
    );
    assert_eq!(v["metadata"]["generateName"], "gen-");
    assert!(v["metadata"]["uid"].is_string());
    assert!(v["metadata"].get("resourceVersion").is_none());
    assert_eq!(get(&s, &format!("{secrets}/{name}")).await.0, 404);
    let (_, list) = get(&s, secrets).await;
    assert_eq!(list["items"], json!([]));
    assert_eq!(s.revision(), start, "a dry run writes nothing");
    // a real generateName create
    let (code, v) = post(
        &s,
        secrets,
        json!({"metadata": {"generateName": "gen-"}, "stringData": {"k": "v"}}),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    assert!(v["metadata"]["name"].as_str().unwrap().starts_with("gen-"));
    assert_eq!(v["metadata"]["name"].as_str().unwrap().len(), 9);
    // dry-run create of an existing name: AlreadyExists
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}),
    )
    .await;
    let (code, v) = post(
        &s,
        &format!("{secrets}?dryRun=All"),
        json!({"metadata": {"name": "s"}}),
    )
    .await;
    assert_eq!(code, 409);
    assert_eq!(v["reason"], "AlreadyExists");
    let (_, stored) = get(&s, &format!("{secrets}/s")).await;
    let at = s.revision();
    // PUT, merge patch and apply: the updated object, stored unchanged
    let mut put = stored.clone();
    put["data"]["k"] = json!("d2Vy");
    let (code, v) = call(
        &s,
        "PUT",
        &format!("{secrets}/s?dryRun=All"),
        Some("application/json"),
        put,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["k"], "d2Vy");
    assert_eq!(
        v["metadata"]["resourceVersion"],
        stored["metadata"]["resourceVersion"]
    );
    let (code, v) = merge(
        &s,
        &format!("{secrets}/s?dryRun=All"),
        json!({"metadata": {"labels": {"a": "b"}}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["metadata"]["labels"]["a"], "b");
    let (code, v) = call(
        &s,
        "PATCH",
        &format!("{secrets}/s?dryRun=All&fieldManager=applier"),
        Some("application/apply-patch+yaml"),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": {"x": "y"}}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["metadata"]["annotations"]["x"], "y");
    assert_eq!(get(&s, &format!("{secrets}/s")).await.1, stored);
    // DELETE, with ?dryRun or DeleteOptions.dryRun: the answer of a delete, nothing deleted
    for (path, body) in [
        (format!("{secrets}/s?dryRun=All"), Value::Null),
        (format!("{secrets}/s"), json!({"dryRun": ["All"]})),
    ] {
        let (code, v) = call(&s, "DELETE", &path, Some("application/json"), body).await;
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["status"], "Success");
        assert_eq!(v["details"]["uid"], stored["metadata"]["uid"]);
    }
    assert_eq!(get(&s, &format!("{secrets}/s")).await.1, stored);
    assert_eq!(s.revision(), at, "dry runs write nothing");
    // validation of the option, reported for each verb's options kind
    let bad = "Unsupported value: []string{\"Yes\"}: supported values: \"All\"";
    let (code, v) = post(
        &s,
        &format!("{secrets}?dryRun=Yes"),
        json!({"metadata": {"name": "x"}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["message"],
        format!("CreateOptions.meta.k8s.io \"\" is invalid: dryRun: {bad}")
    );
    let (code, v) = call(
        &s,
        "PUT",
        &format!("{secrets}/s?dryRun=Yes"),
        Some("application/json"),
        stored.clone(),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(v["details"]["kind"], "UpdateOptions");
    let (code, v) = call(
        &s,
        "DELETE",
        &format!("{secrets}/s"),
        Some("application/json"),
        json!({"dryRun": ["Yes"]}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["message"],
        format!("DeleteOptions.meta.k8s.io \"\" is invalid: dryRun: {bad}")
    );
    // a delete's body wins over its query (the handler decodes one or the other)
    let (code, v) = call(
        &s,
        "DELETE",
        &format!("{secrets}/s?dryRun=All"),
        Some("application/json"),
        json!({"kind": "DeleteOptions", "apiVersion": "v1"}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(get(&s, &format!("{secrets}/s")).await.0, 404);
}

#[tokio::test]
async fn metadata_only_answers() {
    let s = ssc_server().await;
    let secrets = "/api/v1/namespaces/default/secrets";
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "m", "labels": {"a": "b"}}, "stringData": {"k": "v"}}),
    )
    .await;
    post(&s, SSC, alice()).await;
    let accept = |as_: &str| {
        vec![(
            "accept",
            format!("application/json;as={as_};g=meta.k8s.io;v=v1,application/json"),
        )]
    };
    let ask = |method: &'static str, path: String, as_: &'static str, body: Option<Value>| {
        let s = s.clone();
        async move {
            let ct = match method {
                "PATCH" => Some("application/merge-patch+json"),
                _ => None,
            };
            let a = send(
                &s,
                method,
                &path,
                ct,
                body.map(|b| b.to_string()),
                &accept(as_),
            )
            .await;
            (a.status, a.json().to_json())
        }
    };
    let (code, v) = ask("GET", format!("{secrets}/m"), "PartialObjectMetadata", None).await;
    assert_eq!(code, 200);
    assert_eq!(v["kind"], "PartialObjectMetadata");
    assert_eq!(v["apiVersion"], "meta.k8s.io/v1");
    assert!(v.get("data").is_none());
    // a list conversion for one object, an object conversion for a list: 406
    let (code, v) = ask(
        "GET",
        format!("{secrets}/m"),
        "PartialObjectMetadataList",
        None,
    )
    .await;
    assert_eq!(code, 406);
    assert_eq!(
        v,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "you requested PartialObjectMetadataList, but the requested object is not a list (*core.Secret)", "reason": "NotAcceptable", "code": 406})
    );
    let (code, v) = ask("GET", secrets.to_string(), "PartialObjectMetadata", None).await;
    assert_eq!(code, 406);
    assert_eq!(
        v["message"],
        "you requested PartialObjectMetadata, but the requested object is a list (*core.SecretList)"
    );
    let (code, v) = ask(
        "GET",
        format!("{SSC}/alice"),
        "PartialObjectMetadataList",
        None,
    )
    .await;
    assert_eq!(code, 406);
    assert_eq!(
        v["message"],
        "you requested PartialObjectMetadataList, but the requested object is not a list (*unstructured.Unstructured)"
    );
    let (code, v) = ask("GET", SSC.to_string(), "PartialObjectMetadataList", None).await;
    assert_eq!(code, 200);
    assert_eq!(v["kind"], "PartialObjectMetadataList");
    assert_eq!(v["items"][0]["kind"], "PartialObjectMetadata");
    assert!(v["items"][0].get("spec").is_none());
    // writes answer the converted object too (kube's Api::patch_metadata)
    let (code, v) = ask(
        "PATCH",
        format!("{secrets}/m"),
        "PartialObjectMetadata",
        Some(json!({"metadata": {"labels": {"c": "d"}}})),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["kind"], "PartialObjectMetadata");
    assert_eq!(v["metadata"]["labels"]["c"], "d");
    let (code, v) = ask(
        "DELETE",
        format!("{secrets}/m"),
        "PartialObjectMetadata",
        None,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["kind"], "Status", "a Status is never converted");
    // a conversion the stand-in does not serve is skipped for the next acceptable type
    let a = send(
        &s,
        "GET",
        &format!("{SSC}/alice"),
        None,
        None,
        &[(
            "accept",
            "application/json;as=Table;g=meta.k8s.io;v=v1beta1,application/json".into(),
        )],
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json().to_json()["kind"], "ServiceSpecificCredential");
}

#[tokio::test]
async fn namespace_termination() {
    let s = ssc_server().await;
    // a namespace with a foreign spec finalizer stays Terminating once emptied
    let (code, v) = post(
        &s,
        "/api/v1/namespaces",
        json!({"metadata": {"name": "held"}, "spec": {"finalizers": ["example.com/wait"]}}),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(
        v["spec"]["finalizers"],
        json!(["example.com/wait", "kubernetes"])
    );
    // spec.finalizers change only through /finalize
    let (code, v) = merge(
        &s,
        "/api/v1/namespaces/held",
        json!({"spec": {"finalizers": null}}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        v["spec"]["finalizers"],
        json!(["example.com/wait", "kubernetes"])
    );
    let (code, _) = call(&s, "DELETE", "/api/v1/namespaces/held", None, Value::Null).await;
    assert_eq!(code, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let ns = loop {
        let (_, ns) = get(&s, "/api/v1/namespaces/held").await;
        if ns["spec"]["finalizers"] == json!(["example.com/wait"]) {
            break ns;
        }
        assert!(std::time::Instant::now() < deadline, "not finalized: {ns}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(ns["status"]["phase"], "Terminating");
    let mut fin = ns.clone();
    fin["spec"]["finalizers"] = json!([]);
    let (code, v) = call(
        &s,
        "PUT",
        "/api/v1/namespaces/held/finalize",
        Some("application/json"),
        fin,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(get(&s, "/api/v1/namespaces/held").await.0, 404);

    // the helper: Terminating until released; content is deleted meanwhile
    s.create_namespace("t", &[]).await;
    post(
        &s,
        "/api/v1/namespaces/t/secrets",
        json!({"metadata": {"name": "doomed"}}),
    )
    .await;
    let tssc = "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/t/servicespecificcredentials";
    let mut keep = ssc_body(
        "keep",
        Value::Null,
        json!({"userName": "k", "serviceName": "codecommit.amazonaws.com"}),
    );
    keep["metadata"]["finalizers"] = json!(["iam.ssc-operator.dev/cleanup"]);
    post(&s, tssc, keep).await;
    s.terminate_namespace("t").await;
    let (_, ns) = get(&s, "/api/v1/namespaces/t").await;
    assert_eq!(ns["status"]["phase"], "Terminating");
    assert!(ns["metadata"]["deletionTimestamp"].is_string());
    wait_gone(&s, "/api/v1/namespaces/t/secrets/doomed").await;
    let (code, v) = post(
        &s,
        "/api/v1/namespaces/t/secrets",
        json!({"metadata": {"name": "late"}}),
    )
    .await;
    assert_eq!(code, 403);
    assert_eq!(v["details"]["causes"][0]["reason"], "NamespaceTerminating");
    let (_, k) = get(&s, &format!("{tssc}/keep")).await;
    assert!(k["metadata"]["deletionTimestamp"].is_string());
    merge(
        &s,
        &format!("{tssc}/keep"),
        json!({"metadata": {"finalizers": null}}),
    )
    .await;
    wait_gone(&s, &format!("{tssc}/keep")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, ns) = get(&s, "/api/v1/namespaces/t").await;
    assert_eq!(code, 200, "held by the helper");
    assert_eq!(
        ns["spec"]["finalizers"],
        json!([kube_standin::NAMESPACE_HOLD_FINALIZER])
    );
    s.release_namespace("t").await;
    wait_gone(&s, "/api/v1/namespaces/t").await;
    // an empty namespace: held the same way
    s.create_namespace("empty", &[]).await;
    s.terminate_namespace("empty").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(get(&s, "/api/v1/namespaces/empty").await.0, 200);
    s.release_namespace("empty").await;
    assert_eq!(get(&s, "/api/v1/namespaces/empty").await.0, 404);
}

#[tokio::test]
async fn auth_discovery_routing_and_faults() {
    let s = ssc_server().await;
    let no_token = reqwest::Client::new()
        .get(format!("{}{SSC}", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status().as_u16(), 403);
    let v: Value = no_token.json().await.unwrap();
    assert_eq!(
        v["message"],
        "servicespecificcredentials.iam.ssc-operator.dev is forbidden: User \"system:anonymous\" cannot list resource \"servicespecificcredentials\" in API group \"iam.ssc-operator.dev\" in the namespace \"default\""
    );
    let version = reqwest::Client::new()
        .get(format!("{}/version", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(version.status().as_u16(), 200, "/version is public");
    let (code, v) = get(&s, "/api").await;
    assert_eq!(code, 200);
    assert_eq!(v["versions"], json!(["v1"]));
    let (_, v) = get(&s, "/apis").await;
    let groups: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(groups.contains(&"iam.ssc-operator.dev") && groups.contains(&"coordination.k8s.io"));
    let (code, v) = get(&s, "/apis/nope.example.com/v1/things").await;
    assert_eq!(code, 404);
    assert_eq!(
        v["message"],
        "the server could not find the requested resource"
    );
    let (code, _) = get(&s, "/api/v1/namespaces/default/secrets/x/status").await;
    assert_eq!(code, 404);
    let (code, _) = call(&s, "PUT", SSC, Some("application/json"), json!({})).await;
    assert_eq!(code, 405);
    // injected failures, then normal service; requests are recorded with RBAC verbs
    s.clear_requests();
    s.fail_next(
        RequestMatcher::default()
            .verb("get")
            .resource("servicespecificcredentials")
            .name("x"),
        500,
        1,
    );
    let (code, v) = get(&s, &format!("{SSC}/x")).await;
    assert_eq!(code, 500);
    assert_eq!(v["kind"], "Status");
    assert_eq!(get(&s, &format!("{SSC}/x")).await.0, 404);
    get(&s, &format!("{SSC}?watch=true&timeoutSeconds=1")).await;
    merge(&s, &format!("{SSC}/x/status"), json!({})).await;
    let reqs = s.requests();
    let verbs: Vec<(String, Option<String>, u16)> = reqs
        .iter()
        .map(|r| (r.verb.clone(), r.subresource.clone(), r.status))
        .collect();
    assert_eq!(
        verbs,
        vec![
            ("get".into(), None, 500),
            ("get".into(), None, 404),
            ("watch".into(), None, 200),
            ("patch".into(), Some("status".into()), 404)
        ]
    );
    assert_eq!(reqs[0].api_group, "iam.ssc-operator.dev");
    assert_eq!(reqs[0].namespace.as_deref(), Some("default"));
    assert_eq!(reqs[0].user_agent.as_deref(), Some(UA));
}

// -------------------------------------------------------------------------------------------------
// A real kube::Client and kube-runtime against the stand-in
// -------------------------------------------------------------------------------------------------

mod client {
    use super::*;
    use futures::{StreamExt, TryStreamExt};
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
    use kube::core::{ApiResource, GroupVersionKind};
    use kube::runtime::watcher::{self, Event};
    use kube::runtime::{WatchStreamExt, reflector};

    fn ssc_api(client: kube::Client) -> Api<DynamicObject> {
        let ar = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(
                "iam.ssc-operator.dev",
                "v1alpha1",
                "ServiceSpecificCredential",
            ),
            "servicespecificcredentials",
        );
        Api::namespaced_with(client, "default", &ar)
    }

    fn ssc(name: &str) -> DynamicObject {
        serde_json::from_value(ssc_body(
            name,
            Value::Null,
            json!({"userName": name, "serviceName": "codecommit.amazonaws.com"}),
        ))
        .unwrap()
    }

    fn secret(name: &str, labels: &[(&str, &str)]) -> Secret {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()},
            "stringData": {"password": "p"},
        }))
        .unwrap()
    }

    fn code(e: kube::Error) -> (u16, String) {
        match e {
            kube::Error::Api(s) => (s.code, s.reason.clone()),
            other => panic!("not an API error: {other}"),
        }
    }

    #[tokio::test]
    async fn crud_and_conflicts() {
        let s = ssc_server().await;
        let secrets: Api<Secret> = Api::default_namespaced(s.client());
        let created = secrets
            .create(&PostParams::default(), &secret("s1", &[]))
            .await
            .unwrap();
        assert_eq!(created.data.as_ref().unwrap()["password"].0, b"p");
        assert!(created.string_data.is_none());
        // stale replace: 409 Conflict
        let mut stale = created.clone();
        secrets
            .patch(
                "s1",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
            )
            .await
            .unwrap();
        stale.metadata.labels = Some([("z".to_string(), "1".to_string())].into());
        assert_eq!(
            code(
                secrets
                    .replace("s1", &PostParams::default(), &stale)
                    .await
                    .unwrap_err()
            ),
            (409, "Conflict".into())
        );
        assert_eq!(
            code(
                secrets
                    .create(&PostParams::default(), &secret("s1", &[]))
                    .await
                    .unwrap_err()
            ),
            (409, "AlreadyExists".into())
        );
        assert!(secrets.get_opt("missing").await.unwrap().is_none());
        // custom resources through DynamicObject, status via the subresource
        let api = ssc_api(s.client());
        let obj = api
            .create(&PostParams::default(), &ssc("alice"))
            .await
            .unwrap();
        assert_eq!(obj.data["spec"]["status"], "Active");
        let patched = api
            .patch_status("alice", &PatchParams::apply("ssc-operator").force(), &Patch::Apply(json!({
                "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
                "status": {"observedGeneration": 1}
            })))
            .await
            .unwrap();
        assert_eq!(patched.data["status"]["observedGeneration"], 1);
        let mut stale = obj.clone();
        stale.data["spec"]["status"] = json!("Inactive");
        assert_eq!(
            code(
                api.replace("alice", &PostParams::default(), &stale)
                    .await
                    .unwrap_err()
            ),
            (409, "Conflict".into())
        );
        let e = api
            .create(
                &PostParams::default(),
                &serde_json::from_value(ssc_body(
                    "x",
                    Value::Null,
                    json!({"userName": "bad name"}),
                ))
                .unwrap(),
            )
            .await
            .unwrap_err();
        assert_eq!(code(e), (422, "Invalid".into()));
        let deleted = api.delete("alice", &DeleteParams::default()).await.unwrap();
        assert!(deleted.is_right(), "deleted without finalizers: a Status");
    }

    #[tokio::test]
    async fn watcher_sees_changes_and_reflector_stores_them() {
        let s = ssc_server().await;
        let secrets: Api<Secret> = Api::default_namespaced(s.client());
        secrets
            .create(&PostParams::default(), &secret("before", &[]))
            .await
            .unwrap();
        let (reader, writer) = reflector::store::<Secret>();
        let mut stream = reflector::reflector(
            writer,
            watcher::watcher(secrets.clone(), watcher::Config::default()),
        )
        .boxed();
        let mut seen = Vec::new();
        let mut step = 0;
        while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .map(|r| r.unwrap())
        {
            let label = match &ev {
                Event::Init => "init".to_string(),
                Event::InitApply(o) => {
                    format!("init-apply {}", o.metadata.name.as_deref().unwrap())
                }
                Event::InitDone => "init-done".to_string(),
                Event::Apply(o) => format!(
                    "apply {} {}",
                    o.metadata.name.as_deref().unwrap(),
                    o.metadata.labels.as_ref().map_or(0, |l| l.len())
                ),
                Event::Delete(o) => format!("delete {}", o.metadata.name.as_deref().unwrap()),
            };
            seen.push(label);
            match (step, &ev) {
                (0, Event::InitDone) => {
                    step = 1;
                    secrets
                        .create(&PostParams::default(), &secret("new", &[]))
                        .await
                        .unwrap();
                }
                (1, Event::Apply(_)) => {
                    step = 2;
                    secrets
                        .patch(
                            "new",
                            &PatchParams::default(),
                            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
                        )
                        .await
                        .unwrap();
                }
                (2, Event::Apply(_)) => {
                    step = 3;
                    secrets
                        .delete("new", &DeleteParams::default())
                        .await
                        .unwrap();
                }
                (3, Event::Delete(_)) => break,
                _ => {}
            }
        }
        assert_eq!(
            seen,
            vec![
                "init",
                "init-apply before",
                "init-done",
                "apply new 0",
                "apply new 1",
                "delete new"
            ]
        );
        let names: Vec<String> = reader
            .state()
            .iter()
            .map(|s| s.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, vec!["before"]);
        // the initial list was paged (limit=500) and the watch resumed from its resourceVersion
        let reqs = s.requests();
        let list = reqs
            .iter()
            .find(|r| r.verb == "list" && r.resource == "secrets")
            .unwrap();
        assert_eq!(list.query.get("limit").map(String::as_str), Some("500"));
        let watch = reqs.iter().find(|r| r.verb == "watch").unwrap();
        assert_eq!(
            watch.query.get("allowWatchBookmarks").map(String::as_str),
            Some("true")
        );
    }

    #[tokio::test]
    async fn watcher_relists_after_410() {
        let s = ssc_server().await;
        let secrets: Api<Secret> = Api::default_namespaced(s.client());
        let mut stream = watcher::watcher(secrets.clone(), watcher::Config::default()).boxed();
        let mut inits = 0;
        let mut errors = 0;
        let mut compacted = false;
        let mut relisted = Vec::new();
        while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
            match ev {
                Ok(Event::InitApply(o)) if inits == 1 => relisted.push(o.metadata.name.unwrap()),
                Ok(Event::InitDone) => {
                    inits += 1;
                    if inits == 2 {
                        break;
                    }
                    // A write elsewhere moves the revision past the watcher's resourceVersion; the
                    // watch cache is then reset: the watch ends and resuming it gets 410.
                    ssc_api(s.client())
                        .create(&PostParams::default(), &ssc("elsewhere"))
                        .await
                        .unwrap();
                    secrets
                        .create(&PostParams::default(), &secret("unseen", &[]))
                        .await
                        .ok();
                    s.compact();
                    compacted = true;
                }
                Ok(_) => {}
                Err(watcher::Error::WatchError(e)) => {
                    assert_eq!(e.code, 410);
                    errors += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(compacted);
        assert_eq!(errors, 1, "one 410 ERROR event");
        assert_eq!(inits, 2, "relisted after 410");
        assert_eq!(relisted, vec!["unseen"]);
        let lists = s
            .requests()
            .iter()
            .filter(|r| r.verb == "list" && r.resource == "secrets")
            .count();
        assert_eq!(lists, 2);
    }

    #[tokio::test]
    async fn label_selected_secret_watch() {
        let s = ssc_server().await;
        let secrets: Api<Secret> = Api::default_namespaced(s.client());
        let label = "app.kubernetes.io/managed-by=ssc-operator";
        let cfg = watcher::Config::default().labels(label);
        let mut stream = watcher::watcher(secrets.clone(), cfg)
            .applied_objects()
            .boxed();
        secrets
            .create(&PostParams::default(), &secret("unlabelled", &[]))
            .await
            .unwrap();
        secrets
            .create(
                &PostParams::default(),
                &secret(
                    "labelled",
                    &[("app.kubernetes.io/managed-by", "ssc-operator")],
                ),
            )
            .await
            .unwrap();
        secrets
            .create(
                &PostParams::default(),
                &secret("other", &[("app.kubernetes.io/managed-by", "someone-else")]),
            )
            .await
            .unwrap();
        let first = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(first.metadata.name.as_deref(), Some("labelled"));
        secrets
            .patch(
                "unlabelled",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"x": "eA=="}})),
            )
            .await
            .unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(500), stream.try_next())
                .await
                .is_err(),
            "unlabelled secrets are not seen"
        );
        let reqs = s.requests();
        assert!(
            reqs.iter()
                .filter(|r| r.resource == "secrets" && (r.verb == "list" || r.verb == "watch"))
                .all(|r| r.query.get("labelSelector").map(String::as_str) == Some(label))
        );
    }

    #[tokio::test]
    async fn metadata_watcher_dry_runs_and_preconditions() {
        let s = ssc_server().await;
        let secrets: Api<Secret> = Api::default_namespaced(s.client());
        let label = "app.kubernetes.io/managed-by=ssc-operator";
        secrets
            .create(
                &PostParams::default(),
                &secret("m1", &[("app.kubernetes.io/managed-by", "ssc-operator")]),
            )
            .await
            .unwrap();
        let cfg = watcher::Config::default().labels(label);
        // Api<PartialObjectMeta<K>> asks for metadata-only lists and watches
        let metas: Api<kube::core::PartialObjectMeta<Secret>> = Api::default_namespaced(s.client());
        let mut stream = watcher::watcher(metas.clone(), cfg)
            .applied_objects()
            .boxed();
        let first = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(first.metadata.name.as_deref(), Some("m1"));
        assert_eq!(first.types.as_ref().unwrap().kind, "PartialObjectMetadata");
        secrets
            .create(
                &PostParams::default(),
                &secret("m2", &[("app.kubernetes.io/managed-by", "ssc-operator")]),
            )
            .await
            .unwrap();
        let second = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(second.metadata.name.as_deref(), Some("m2"));
        let meta = secrets.get_metadata("m1").await.unwrap();
        assert_eq!(meta.types.unwrap().kind, "PartialObjectMetadata");
        let patched = secrets
            .patch_metadata(
                "m1",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {"a": "b"}}})),
            )
            .await
            .unwrap();
        assert_eq!(patched.types.unwrap().kind, "PartialObjectMetadata");
        // dry runs through kube's PostParams/PatchParams/DeleteParams
        let dry = secrets
            .create(
                &PostParams {
                    dry_run: true,
                    field_manager: Some("ssc-operator".into()),
                },
                &secret("dry", &[]),
            )
            .await
            .unwrap();
        assert!(dry.metadata.uid.is_some());
        assert!(dry.metadata.resource_version.is_none());
        assert!(secrets.get_opt("dry").await.unwrap().is_none());
        let pp = PatchParams {
            dry_run: true,
            ..PatchParams::default()
        };
        let p = secrets
            .patch("m1", &pp, &Patch::Merge(json!({"data": {"x": "eA=="}})))
            .await
            .unwrap();
        assert!(p.data.unwrap().contains_key("x"));
        assert!(
            !secrets
                .get("m1")
                .await
                .unwrap()
                .data
                .unwrap()
                .contains_key("x")
        );
        let dp = DeleteParams {
            dry_run: true,
            ..DeleteParams::default()
        };
        secrets.delete("m1", &dp).await.unwrap();
        assert!(secrets.get_opt("m1").await.unwrap().is_some());
        // a uid precondition of another object: 409, nothing deleted
        let err = secrets
            .delete(
                "m1",
                &DeleteParams::default().preconditions(kube::api::Preconditions {
                    uid: Some("00000000-0000-0000-0000-000000000000".into()),
                    resource_version: None,
                }),
            )
            .await
            .unwrap_err();
        assert_eq!(code(err), (409, "Conflict".to_string()));
        assert!(secrets.get_opt("m1").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn gc_removes_owned_secret() {
        let s = ssc_server().await;
        let api = ssc_api(s.client());
        let owner = api
            .create(&PostParams::default(), &ssc("owner"))
            .await
            .unwrap();
        let secrets: Api<Secret> = Api::default_namespaced(s.client());
        let mut sec = secret("owned", &[]);
        sec.metadata.owner_references = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                api_version: "iam.ssc-operator.dev/v1alpha1".into(),
                kind: "ServiceSpecificCredential".into(),
                name: "owner".into(),
                uid: owner.metadata.uid.clone().unwrap(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            },
        ]);
        secrets.create(&PostParams::default(), &sec).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            secrets.get_opt("owned").await.unwrap().is_some(),
            "owner exists: kept"
        );
        api.delete("owner", &DeleteParams::default()).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while secrets.get_opt("owned").await.unwrap().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "owned secret not collected"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn recorder_creates_then_patches_series() {
        let s = ssc_server().await;
        let api = ssc_api(s.client());
        let obj = api
            .create(&PostParams::default(), &ssc("alice"))
            .await
            .unwrap();
        let reference = k8s_openapi::api::core::v1::ObjectReference {
            api_version: Some("iam.ssc-operator.dev/v1alpha1".into()),
            kind: Some("ServiceSpecificCredential".into()),
            name: obj.metadata.name.clone(),
            namespace: obj.metadata.namespace.clone(),
            uid: obj.metadata.uid.clone(),
            ..Default::default()
        };
        let recorder = kube::runtime::events::Recorder::new(
            s.client(),
            kube::runtime::events::Reporter {
                controller: "ssc-operator".into(),
                instance: Some("pod-1".into()),
            },
        );
        let ev = kube::runtime::events::Event {
            type_: kube::runtime::events::EventType::Warning,
            reason: "UserNotFound".into(),
            note: Some("no such user".into()),
            action: "Reconcile".into(),
            secondary: None,
        };
        recorder.publish(&ev, &reference).await.unwrap();
        recorder.publish(&ev, &reference).await.unwrap();
        let events: Api<k8s_openapi::api::events::v1::Event> = Api::default_namespaced(s.client());
        let list = events.list(&ListParams::default()).await.unwrap();
        assert_eq!(list.items.len(), 1);
        assert_eq!(list.items[0].series.as_ref().map(|s| s.count), Some(2));
        let verbs: Vec<String> = s
            .requests()
            .iter()
            .filter(|r| r.resource == "events")
            .map(|r| r.verb.clone())
            .collect();
        assert_eq!(verbs, vec!["create", "patch", "list"]);
    }

    #[tokio::test]
    async fn finalizer_helper_round_trip() {
        use kube::runtime::controller::Action;
        use kube::runtime::finalizer::{Event as FEvent, finalizer};
        let s = ssc_server().await;
        let api = ssc_api(s.client());
        api.create(&PostParams::default(), &ssc("alice"))
            .await
            .unwrap();
        let name = "iam.ssc-operator.dev/cleanup";
        let reconcile = |ev: FEvent<DynamicObject>| async move {
            Ok::<_, std::io::Error>(match ev {
                FEvent::Apply(_) => Action::await_change(),
                FEvent::Cleanup(_) => Action::await_change(),
            })
        };
        // first call adds the finalizer (json patch with a test op)
        let obj = std::sync::Arc::new(api.get("alice").await.unwrap());
        finalizer(&api, name, obj, reconcile).await.unwrap();
        let obj = api.get("alice").await.unwrap();
        assert_eq!(
            obj.metadata.finalizers.as_deref(),
            Some(&[name.to_string()][..])
        );
        // a second add from a stale copy fails the test op (422) instead of duplicating
        let mut stale = obj.clone();
        stale.metadata.finalizers = None;
        assert!(
            finalizer(&api, name, std::sync::Arc::new(stale), reconcile)
                .await
                .is_err()
        );
        // deletion: the object stays terminating until cleanup removes the finalizer
        api.delete("alice", &DeleteParams::default()).await.unwrap();
        let obj = api.get("alice").await.unwrap();
        assert!(obj.metadata.deletion_timestamp.is_some());
        finalizer(&api, name, std::sync::Arc::new(obj), reconcile)
            .await
            .unwrap();
        assert!(api.get_opt("alice").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn rbac_rules_and_owner_reference_enforcement() {
    use k8s_openapi::api::rbac::v1::PolicyRule;
    use kube_standin::TokenUser;
    let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
        resources: Some(resources.iter().map(|s| s.to_string()).collect()),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let operator = vec![
        rule(
            &["iam.ssc-operator.dev"],
            &["servicespecificcredentials"],
            &["get", "list", "watch", "patch"],
        ),
        rule(
            &["iam.ssc-operator.dev"],
            &["servicespecificcredentials/status"],
            &["patch"],
        ),
        rule(
            &[""],
            &["secrets"],
            &["create", "get", "list", "watch", "patch", "delete"],
        ),
    ];
    let mut cfg = ApiServerConfig {
        crds: vec![crd()],
        owner_references_permission_enforcement: true,
        ..ApiServerConfig::default()
    };
    cfg.tokens.push(TokenUser::with_rules(
        "op-token",
        "system:serviceaccount:ssc:ssc-operator",
        operator,
    ));
    let s = ApiServer::start_with(cfg).await;
    let (_, owner) = post(&s, SSC, alice()).await;
    let as_op = |method: &'static str, path: String, body: Value| {
        let s = s.clone();
        async move {
            let a = send(
                &s,
                method,
                &path,
                Some("application/json"),
                (!body.is_null()).then(|| body.to_string()),
                &[("authorization", "Bearer op-token".into())],
            )
            .await;
            (
                a.status,
                serde_json::from_str::<Value>(&a.body).unwrap_or(Value::Null),
            )
        }
    };
    assert_eq!(as_op("GET", SSC.into(), Value::Null).await.0, 200);
    let (code, v) = as_op("DELETE", format!("{SSC}/alice"), Value::Null).await;
    assert_eq!(code, 403);
    assert_eq!(
        v["message"],
        "servicespecificcredentials.iam.ssc-operator.dev \"alice\" is forbidden: User \"system:serviceaccount:ssc:ssc-operator\" cannot delete resource \"servicespecificcredentials\" in API group \"iam.ssc-operator.dev\" in the namespace \"default\""
    );
    assert_eq!(
        v["details"],
        json!({"name": "alice", "group": "iam.ssc-operator.dev", "kind": "servicespecificcredentials"})
    );
    let (code, v) = as_op("PUT", format!("{SSC}/alice/status"), owner.clone()).await;
    assert_eq!(code, 403);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("cannot update resource \"servicespecificcredentials/status\"")
    );
    let (code, _) = as_op("GET", "/api/v1/namespaces/default".into(), Value::Null).await;
    assert_eq!(code, 403);
    // blockOwnerDeletion needs update on servicespecificcredentials/finalizers
    let secret = json!({"metadata": {"name": "owned", "ownerReferences": [owner_ref(&owner, true)]}, "stringData": {"a": "b"}});
    let (code, v) = as_op("POST", "/api/v1/namespaces/default/secrets".into(), secret).await;
    assert_eq!(code, 403, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("cannot set blockOwnerDeletion")
    );
    let secret = json!({"metadata": {"name": "owned", "ownerReferences": [owner_ref(&owner, false)]}, "stringData": {"a": "b"}});
    assert_eq!(
        as_op("POST", "/api/v1/namespaces/default/secrets".into(), secret)
            .await
            .0,
        201
    );
    // impersonating the operator as admin applies its rules
    let a = send(
        &s,
        "DELETE",
        &format!("{SSC}/alice"),
        None,
        None,
        &[(
            "impersonate-user",
            "system:serviceaccount:ssc:ssc-operator".into(),
        )],
    )
    .await;
    assert_eq!(a.status, 403);
    let a = send(
        &s,
        "GET",
        SSC,
        None,
        None,
        &[(
            "impersonate-user",
            "system:serviceaccount:ssc:ssc-operator".into(),
        )],
    )
    .await;
    assert_eq!(a.status, 200);
    // the operator itself may not impersonate
    let a = send(
        &s,
        "GET",
        SSC,
        None,
        None,
        &[
            ("authorization", "Bearer op-token".into()),
            ("impersonate-user", "admin".into()),
        ],
    )
    .await;
    assert_eq!(a.status, 403);
}

/// The project's own CRD (`crds/`) is served with its defaults, formats and CEL rules.
#[tokio::test]
async fn project_crd_is_served_strictly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crds");
    let Some(path) = std::fs::read_dir(&dir)
        .ok()
        .and_then(|mut d| d.find_map(|e| e.ok().map(|e| e.path())))
    else {
        return;
    };
    let crd =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).expect("crds/ holds a CRD");
    let s = ApiServer::start(vec![crd]).await;
    let (code, v) = post(
        &s,
        SSC,
        ssc_body(
            "a",
            Value::Null,
            json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["spec"]["status"], "Active");
    let cond = json!({"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": "yesterday"});
    let (code, v) = merge(
        &s,
        &format!("{SSC}/a/status"),
        json!({"status": {"conditions": [cond]}}),
    )
    .await;
    assert_eq!(code, 422, "{v}");
    assert_eq!(v["details"]["causes"][0]["reason"], "FieldValueTypeInvalid");
    assert_eq!(
        v["details"]["causes"][0]["message"],
        "Invalid value: \"yesterday\": status.conditions[0].lastTransitionTime in body must be of type date-time: \"yesterday\""
    );
    let cond = json!({"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": "2026-11-22T14:00:00Z"});
    let (code, v) = merge(
        &s,
        &format!("{SSC}/a/status"),
        json!({"status": {"conditions": [cond], "bogus": 1}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert!(
        v["status"].get("bogus").is_none(),
        "unknown status fields are pruned"
    );
    let (code, _) = merge(
        &s,
        &format!("{SSC}/a"),
        json!({"spec": {"serviceName": "bedrock.amazonaws.com"}}),
    )
    .await;
    assert_eq!(code, 422, "serviceName is immutable");
}

/// The CRD `ssc-operator crd` prints must be accepted by a real kube-apiserver: every CEL rule
/// compiles, uses only variables of CRD validation and stays within the apiserver's estimated-cost
/// budget; and bad manifests are rejected with readable messages.
#[tokio::test]
async fn project_crd_rules_are_installable_and_reject_bad_manifests() {
    use kube::CustomResourceExt;
    let crd = ssc_operator::api::ServiceSpecificCredential::crd();
    let schema = serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .unwrap(),
    )
    .unwrap();
    let compiled = kube_cel::compile_schema(&schema);
    assert!(
        !compiled.has_errors(),
        "{:?}",
        compiled.compilation_errors()
    );
    fn rules(v: &Value, out: &mut Vec<String>) {
        if let Some(list) = v.get("x-kubernetes-validations").and_then(Value::as_array) {
            out.extend(
                list.iter()
                    .filter_map(|r| r["rule"].as_str().map(str::to_string)),
            );
        }
        for key in ["properties", "additionalProperties", "items"] {
            match v.get(key) {
                Some(Value::Object(m)) if key == "properties" => {
                    m.values().for_each(|c| rules(c, out))
                }
                Some(child @ Value::Object(_)) => rules(child, out),
                _ => {}
            }
        }
    }
    let mut found = Vec::new();
    rules(&schema, &mut found);
    assert!(found.len() >= 4, "{found:?}");
    let spec_schema = kube_cel::compile_schema(&schema["properties"]["spec"]);
    for rule in &found {
        let warnings: Vec<_> =
            kube_cel::analyze_rule(rule, &spec_schema, kube_cel::ScopeContext::CrdValidation)
                .into_iter()
                .filter(|w| w.kind != kube_cel::WarningKind::MissingBounds)
                .collect();
        assert!(warnings.is_empty(), "{rule}: {warnings:?}");
    }

    let s = ApiServer::start(vec![crd]).await;
    for (spec, field, needle) in [
        (
            json!({"userName": "a b", "serviceName": "codecommit.amazonaws.com"}),
            "spec.userName",
            "should match",
        ),
        (
            json!({"userName": "x".repeat(65), "serviceName": "codecommit.amazonaws.com"}),
            "spec.userName",
            "may not be longer than 64",
        ),
        (
            json!({"userName": "alice", "serviceName": "lambda.amazonaws.com"}),
            "spec.serviceName",
            "supported values",
        ),
        (
            json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com", "credentialAgeDays": 30}),
            "spec",
            "credentialAgeDays applies only to API-key services",
        ),
        (
            json!({"userName": "alice", "serviceName": "bedrock.amazonaws.com", "credentialAgeDays": 0}),
            "spec.credentialAgeDays",
            "greater than or equal to 1",
        ),
        (
            json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com", "status": "Expired"}),
            "spec.status",
            "supported values",
        ),
        (
            json!({"serviceName": "codecommit.amazonaws.com"}),
            "spec.userName",
            "Required value",
        ),
        (
            json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com", "secret": {"name": "Bad_Name"}}),
            "spec.secret.name",
            "should match",
        ),
        (
            json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com", "rotation": {"interval": "1d"}}),
            "spec.rotation.interval",
            "should match",
        ),
        (
            json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com", "deletionPolicy": "Orphan"}),
            "spec.deletionPolicy",
            "supported values",
        ),
    ] {
        let (code, v) = post(&s, SSC, ssc_body("bad", Value::Null, spec.clone())).await;
        assert_eq!(code, 422, "{spec}: {v}");
        let causes = v["details"]["causes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            causes.iter().any(|c| c["field"] == field
                && c["message"].as_str().is_some_and(|m| m.contains(needle))),
            "{spec}: expected {field} / {needle:?} in {v}"
        );
    }
    let (code, v) = post(
        &s,
        SSC,
        ssc_body("good", Value::Null, json!({"userName": "alice", "serviceName": "bedrock.amazonaws.com", "credentialAgeDays": 30})),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["spec"]["deletionPolicy"], "Delete");
    let (code, v) = merge(
        &s,
        &format!("{SSC}/good"),
        json!({"spec": {"userName": "bob"}}),
    )
    .await;
    assert_eq!(code, 422, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("userName is immutable"),
        "{v}"
    );
}

/// What `kubectl get` sends for one object, a list and a watch.
const KUBECTL_TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// `kubectl get ssc`: custom resources are answered as `meta.k8s.io/v1` Tables with the CRD's
/// printer columns, computed as kube-apiserver's CRD table convertor does.
#[tokio::test]
async fn custom_resource_tables_for_kubectl_get() {
    use kube::CustomResourceExt;
    let s = ApiServer::start(vec![ssc_operator::api::ServiceSpecificCredential::crd()]).await;
    s.set_time(Some(at("2026-11-22T14:00:00Z")));
    let (code, v) = post(&s, SSC, alice()).await;
    assert_eq!(code, 201, "{v}");
    let cond = json!({"type": "Ready", "status": "True", "reason": "Available", "message": "ok", "lastTransitionTime": "2026-11-22T14:00:00Z"});
    let (code, v) = merge(
        &s,
        &format!("{SSC}/alice/status"),
        json!({"status": {"conditions": [cond], "secretName": "alice-credentials", "credentialId": "ACCA1EXAMPLE", "expirationDate": "2026-12-22T14:00:00Z"}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    let alice_rv = rv(&v);
    let (code, v) = post(
        &s,
        SSC,
        ssc_body(
            "bob",
            Value::Null,
            json!({"userName": "bob", "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    s.set_time(Some(at("2026-11-22T14:03:10Z")));
    let table = |path: String| {
        let s = s.clone();
        async move {
            let a = send(
                &s,
                "GET",
                &path,
                None,
                None,
                &[("accept", KUBECTL_TABLE_ACCEPT.to_string())],
            )
            .await;
            (a.status, a.content_type.clone(), a.json())
        }
    };

    // one object
    let (code, content_type, t) = table(format!("{SSC}/alice")).await;
    assert_eq!(code, 200, "{}", t.to_json());
    assert_eq!(content_type, "application/json");
    let keys: Vec<String> = match &t {
        OValue::Object(m) => m.iter().map(|(k, _)| k.clone()).collect(),
        other => panic!("not an object: {other:?}"),
    };
    assert_eq!(
        keys,
        [
            "kind",
            "apiVersion",
            "metadata",
            "columnDefinitions",
            "rows"
        ],
        "Go's field order"
    );
    let t = t.to_json();
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(
        t["metadata"],
        json!({"resourceVersion": alice_rv.to_string()})
    );
    let columns = t["columnDefinitions"].as_array().expect("columns");
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Name",
            "Ready",
            "Reason",
            "User",
            "Service",
            "Secret",
            "Expires",
            "Age",
            "Credential ID",
            "Next Rotation",
            "Message"
        ]
    );
    assert_eq!(
        columns[0],
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", "priority": 0})
    );
    assert_eq!(
        columns[1],
        json!({"name": "Ready", "type": "string", "format": "", "description": "Custom resource definition column (in JSONPath format): .status.conditions[?(@.type==\"Ready\")].status", "priority": 0})
    );
    // A string: a `date` column would print a time ahead ("Expires") as "<invalid>".
    assert_eq!(columns[6]["type"], "string");
    assert_eq!(columns[7]["type"], "date");
    assert_eq!(columns[8]["priority"], 1, "Credential ID is for -o wide");
    let rows = t["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]["cells"],
        json!([
            "alice",
            "True",
            "Available",
            "alice",
            "codecommit.amazonaws.com",
            "alice-credentials",
            "2026-12-22T14:00:00Z",
            "3m10s",
            "ACCA1EXAMPLE",
            null,
            "ok"
        ])
    );
    let object = &rows[0]["object"];
    assert_eq!(object["kind"], "PartialObjectMetadata");
    assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(object["metadata"]["name"], "alice");
    assert_eq!(object["metadata"]["labels"]["team"], "platform");
    assert!(object.get("spec").is_none(), "{object}");

    // a list: every object, missing fields are null cells
    let (code, _, t) = table(format!("{SSC}?limit=500")).await;
    assert_eq!(code, 200);
    let t = t.to_json();
    assert_eq!(t["kind"], "Table");
    assert_eq!(
        t["metadata"],
        json!({"resourceVersion": s.revision().to_string()})
    );
    let rows = t["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["cells"][0], "alice");
    assert_eq!(
        rows[1]["cells"],
        json!([
            "bob",
            null,
            null,
            "bob",
            "codecommit.amazonaws.com",
            null,
            null,
            "3m10s",
            null,
            null,
            null
        ])
    );
    // a page: continue and remainingItemCount as in the list's metadata
    let (code, _, t) = table(format!("{SSC}?limit=1")).await;
    assert_eq!(code, 200);
    let t = t.to_json();
    assert_eq!(t["rows"].as_array().map(Vec::len), Some(1));
    assert!(
        t["metadata"]["continue"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{t}"
    );
    assert_eq!(t["metadata"]["remainingItemCount"], 1);

    // includeObject
    let (code, _, t) = table(format!("{SSC}?includeObject=None")).await;
    assert_eq!(code, 200);
    let t = t.to_json();
    assert!(t["rows"][0]["object"].is_null(), "{t}");
    assert_eq!(t["rows"][0]["cells"][0], "alice");
    let (code, _, t) = table(format!("{SSC}/alice?includeObject=Object")).await;
    assert_eq!(code, 200);
    let t = t.to_json();
    assert_eq!(t["rows"][0]["object"]["kind"], "ServiceSpecificCredential");
    assert_eq!(t["rows"][0]["object"]["spec"]["userName"], "alice");
    let (code, _, t) = table(format!("{SSC}?includeObject=Everything")).await;
    assert_eq!(code, 400);
    let t = t.to_json();
    assert_eq!(t["reason"], "BadRequest");
    assert_eq!(
        t["message"],
        "Unable to convert to Table as requested: includeObject: Invalid value: \"Everything\": must be 'Metadata', 'Object', 'None', or empty"
    );
    // a missing object is still 404
    let (code, _, t) = table(format!("{SSC}/nobody")).await;
    assert_eq!(code, 404, "{}", t.to_json());

    // plain JSON still gets the object itself
    let a = send(
        &s,
        "GET",
        &format!("{SSC}/alice"),
        None,
        None,
        &[("accept", "application/json".to_string())],
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json().to_json()["kind"], "ServiceSpecificCredential");
    // built-in kinds and watches skip the Table clauses (kubectl falls back to NAME/AGE)
    let (code, _, t) = table("/api/v1/namespaces/default/secrets".to_string()).await;
    assert_eq!(code, 200);
    assert_eq!(t.to_json()["kind"], "SecretList");
    let a = send(
        &s,
        "GET",
        &format!("{SSC}?watch=true&timeoutSeconds=1"),
        None,
        None,
        &[("accept", KUBECTL_TABLE_ACCEPT.to_string())],
    )
    .await;
    assert_eq!(a.status, 200);
    let first: Value =
        serde_json::from_str(a.body.lines().next().expect("a watch event")).expect("JSON event");
    assert_eq!(first["type"], "ADDED");
    assert_eq!(first["object"]["kind"], "ServiceSpecificCredential");
}
