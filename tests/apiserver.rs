//! Conformance tests of the Kubernetes API stand-in (`tests/support/apiserver`).
//!
//! `transcripts_replay_in_order` replays every recorded request of
//! `tests/fixtures/kube-apiserver-transcripts/` (one sequence against a real kube-apiserver
//! v1.28.7 + kube-controller-manager) against a fresh stand-in and requires the same status codes
//! and bodies — key order included — modulo uids, resourceVersions (mapped consistently and
//! required to increase where the real ones did), generated names and continue tokens.
//! Timestamps are compared exactly: the stand-in's clock is set to the recorded time of each step.
//! The other tests drive the stand-in with a real `kube::Client` and kube-runtime.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};
use support::apiserver::{ApiServer, ApiServerConfig, RequestMatcher};

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
    let mut req = client
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
            format!("{}{}", server.url(), path),
        )
        .header("user-agent", UA);
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
            OValue::String(s) => Value::String(self.subst(s)),
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

struct Replay {
    server: ApiServer,
    norm: Norm,
}

impl Replay {
    async fn new() -> Replay {
        Replay {
            server: ApiServer::start(vec![crd()]).await,
            norm: Norm::default(),
        }
    }

    fn request_parts(
        &self,
        t: &Transcript,
    ) -> (
        String,
        String,
        Option<String>,
        Option<String>,
        Vec<(&'static str, String)>,
    ) {
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
        let mut headers = Vec::new();
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
                    other => panic!("unexpected header {other}"),
                };
                headers.push((k, v));
            }
        }
        (method, path, ct, body, headers)
    }

    /// Sends a transcript's request and requires the recorded answer.
    async fn step(&mut self, prefix: &str) -> Answer {
        let t = transcript(prefix);
        if let Some(time) = step_time(&t.body, t.events.as_ref()) {
            self.server.set_time(Some(time));
        }
        let (method, path, ct, body, headers) = self.request_parts(&t);
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
        let ans = send(&self.server, method, path, ct, body, &[]).await;
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
    for (prefix, recorded) in [("34-", "ssc-operator-hkb9c"), ("35-", "ssc-operator-jrd2k")] {
        let t = transcript(prefix);
        if let Some(time) = step_time(&t.body, None) {
            r.server.set_time(Some(time));
        }
        let (method, path, ct, body, headers) = r.request_parts(&t);
        let ans = send(&r.server, &method, &path, ct.as_deref(), body, &headers).await;
        assert_eq!(ans.status, t.status, "{}: {}", t.file, ans.body);
        let v = ans.json().to_json();
        let generated = v["metadata"]["name"]
            .as_str()
            .or(v["details"]["name"].as_str())
            .expect("generated name")
            .to_string();
        let re = regex::Regex::new("^ssc-operator-[bcdfghjklmnpqrstvwxz2456789]{5}$").unwrap();
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
    let (method, path, _, _, headers) = r.request_parts(&t);
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
