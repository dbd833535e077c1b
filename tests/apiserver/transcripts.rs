//! The recorded kube-apiserver transcripts, replayed in order against fresh stand-ins, with
//! volatile values (uids, resourceVersions, generated names, continue tokens) mapped consistently.

use super::*;

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
