//! The corpus of invalid manifests (`tests/fixtures/invalid-manifests/`), each evaluated against
//! the generated CRD by the API stand-in as `kubectl apply` sends it (strict field validation):
//! every one is refused with 422 and the readable message its first line (`# expect: ...`)
//! names, and the same manifest made valid is accepted, so the check can fail. Against a real
//! cluster: `kubectl apply --dry-run=server -f tests/fixtures/invalid-manifests/` must refuse
//! each file.

use std::path::PathBuf;

use kube::CustomResourceExt;
use kube_standin::ApiServer;
use serde_json::{Value, json};
use ssc_operator::ServiceSpecificCredential;

const NS: &str = "team-a";

/// (file, expected HTTP status, expected message part, manifest).
fn corpus() -> Vec<(String, u16, String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid-manifests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let expect = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{name}: the first line must be `# expect: ...`"))
                .to_string();
            // 422 Invalid, unless a `# status: N` line says otherwise (400 for strict decoding).
            let status = text
                .lines()
                .find_map(|l| l.strip_prefix("# status: "))
                .map_or(422, |s| s.trim().parse().unwrap());
            let manifest: Value = serde_yaml::from_str(&text).unwrap();
            (name, status, expect, manifest)
        })
        .collect()
}

async fn create(kube: &ApiServer, manifest: &Value) -> (u16, Value) {
    let url = format!(
        "{}/apis/iam.ssc-operator.dev/v1alpha1/namespaces/{NS}/servicespecificcredentials?fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
        kube.url()
    );
    let answer = reqwest::Client::new()
        .post(url)
        .bearer_auth(kube.admin_token())
        .json(manifest)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or_default())
}

#[tokio::test]
async fn every_invalid_manifest_is_refused_with_a_readable_message() {
    let kube = ApiServer::start(vec![ServiceSpecificCredential::crd()]).await;
    kube.create_namespace(NS, &[]).await;
    let corpus = corpus();
    assert!(corpus.len() >= 20, "the corpus shrank to {}", corpus.len());
    let mut wrong = Vec::new();
    for (name, expected_status, expect, manifest) in &corpus {
        let (status, body) = create(&kube, manifest).await;
        let message = body["message"].as_str().unwrap_or_default();
        println!("{name}: {status} {message}");
        if status != *expected_status || !message.contains(expect.as_str()) {
            wrong.push(format!(
                "{name}: {status} {message:?} (expected {expected_status} containing {expect:?})"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    println!(
        "{} invalid manifests refused with the expected message",
        corpus.len()
    );
}

/// The corpus is only worth something if the same manifests pass once fixed: a valid one with
/// every field the corpus breaks is accepted.
#[tokio::test]
async fn the_valid_counterpart_is_accepted() {
    let kube = ApiServer::start(vec![ServiceSpecificCredential::crd()]).await;
    kube.create_namespace(NS, &[]).await;
    let valid = json!({
        "apiVersion": "iam.ssc-operator.dev/v1alpha1",
        "kind": "ServiceSpecificCredential",
        "metadata": {"name": "good", "namespace": NS},
        "spec": {
            "userName": "alice",
            "serviceName": "bedrock.amazonaws.com",
            "status": "Active",
            "deletionPolicy": "Retain",
            "credentialAgeDays": 30,
            "rotation": {"strategy": "Recreate", "gracePeriod": "1s", "beforeExpiry": "24h", "interval": "720h"},
            "secret": {"name": "alice-bedrock", "template": {"labels": {"team": "7"}}},
            "adopt": {"credentialId": "ACCAEXAMPLEEXAMPLE0001"}
        }
    });
    let (status, body) = create(&kube, &valid).await;
    assert_eq!(status, 201, "{body}");
}
