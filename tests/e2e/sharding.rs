//! Scale-out: two `ssc-operator run` processes, each owning the resources its
//! `--shard-selector` matches, each with its own Lease. One IAM user's resources may fall in both.

use std::process::{Child, Command, Stdio};

use k8s_openapi::api::coordination::v1::Lease;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::harness::{Harness, NS, Options, status, write_kubeconfig};
use kube_standin::TokenUser;

const BIN: &str = env!("CARGO_BIN_EXE_ssc-operator");
const LEASE_NS: &str = "ssc-system";
const SHARDS: [&str; 2] = ["a", "b"];

fn shard_user(shard: &str) -> String {
    format!("shard-{shard}")
}

/// The operator of one shard; killed when dropped.
struct Shard(Child);

impl Drop for Shard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_shard(h: &Harness, dir: &std::path::Path, shard: &str) -> Shard {
    let kubeconfig = dir.join(format!("kubeconfig-{shard}"));
    write_kubeconfig(&kubeconfig, &h.kube.url(), &format!("token-{shard}"));
    let log = std::fs::File::create(dir.join(format!("shard-{shard}.log"))).unwrap();
    let child = Command::new(BIN)
        .args([
            "run",
            "--iam-endpoint-url",
            &h.emulator.endpoint_url(),
            "--http-addr",
            "127.0.0.1:0",
            "--shard-selector",
            &format!("ssc-operator.dev/shard={shard}"),
            "--lease-name",
            &format!("ssc-operator-{shard}"),
            "--lease-duration",
            "3s",
            "--log-level",
            "info,ssc_operator=debug,iam_emulator=debug",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .env("POD_NAME", shard_user(shard))
        .env("POD_NAMESPACE", LEASE_NS)
        .env("AWS_ACCESS_KEY_ID", format!("AKIDSHARD{shard}"))
        .env("AWS_SECRET_ACCESS_KEY", "shard-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start ssc-operator");
    Shard(child)
}

fn resource(name: &str, user: &str, shard: Option<&str>) -> serde_json::Value {
    let labels = shard.map_or(json!({}), |s| json!({"ssc-operator.dev/shard": s}));
    json!({
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {"userName": user, "serviceName": "codecommit.amazonaws.com"}
    })
}

async fn two_shards() -> (Harness, tempfile::TempDir, Vec<Shard>) {
    let mut h = Harness::start_with(Options {
        extra_tokens: SHARDS
            .iter()
            .map(|s| TokenUser {
                user: shard_user(s),
                ..TokenUser::admin(&format!("token-{s}"))
            })
            .collect(),
        // Each shard has its own Lease name, which deploy/'s RBAC does not name; the chart
        // names each release's (tests/deploy/test_helm.py, two shard releases).
        record_requests: false,
        ..Options::default()
    })
    .await;
    h.stop_operator().await;
    h.kube.create_namespace(LEASE_NS, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let shards = SHARDS
        .iter()
        .map(|s| start_shard(&h, dir.path(), s))
        .collect();
    (h, dir, shards)
}

/// Which shard's operator wrote to the resource or Secret `name` (non-GET requests).
fn writers_of(h: &Harness, name: &str) -> Vec<String> {
    let paths = [
        format!("/servicespecificcredentials/{name}"),
        format!("/secrets/{name}"),
    ];
    let mut users: Vec<String> = h
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && paths.iter().any(|p| r.path.contains(p.as_str())))
        .map(|r| r.user)
        .collect();
    users.sort();
    users.dedup();
    users
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_never_touch_each_others_resources_and_share_the_quota() {
    let (h, dir, _shards) = two_shards().await;
    // One IAM user in both shards: the quota of 2 holds across them (IAM says so, not a cache).
    h.apply(resource("a-1", "sofia", Some("a"))).await;
    h.apply(resource("b-1", "sofia", Some("b"))).await;
    h.apply(resource("nobody-s", "anika", None)).await;
    h.wait_ready("a-1").await;
    h.wait_ready("b-1").await;
    h.apply(resource("b-2", "sofia", Some("b"))).await;
    h.wait_for_reason("b-2", "LimitExceeded").await;
    assert_eq!(
        h.iam_credentials("sofia", "codecommit.amazonaws.com")
            .await
            .len(),
        2
    );

    for (name, shard) in [("a-1", "a"), ("b-1", "b"), ("b-2", "b")] {
        assert_eq!(
            writers_of(&h, name),
            [shard_user(shard)],
            "writers of {name}"
        );
    }
    let unsharded = h.get("nobody-s").await.unwrap();
    assert!(unsharded.status.is_none() && unsharded.finalizers().is_empty());
    assert!(writers_of(&h, "nobody-s").is_empty());
    let leases: Api<Lease> = Api::namespaced(h.client(), LEASE_NS);
    for shard in SHARDS {
        let lease = leases.get(&format!("ssc-operator-{shard}")).await.unwrap();
        let holder = lease.spec.and_then(|s| s.holder_identity);
        assert_eq!(holder, Some(shard_user(shard)), "one Lease per shard");
    }
    drop(dir);
}

/// An interrupted Create in one shard must not adopt a credential that a resource of the other
/// shard holds: this shard's cache does not show that claim, the API server does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphan_search_never_takes_a_credential_another_shard_holds() {
    let (h, dir, _shards) = two_shards().await;
    h.apply(resource("b-held", "anika", Some("b"))).await;
    let held = status(&h.wait_ready("b-held").await);
    let held_id = held.credential_id.clone().unwrap();
    let created = held.create_date.clone().unwrap().0;
    // A resource of shard a whose Create was interrupted shortly before the one of b-held: its
    // status names the intent, IAM holds one credential it cannot tell apart from its own.
    h.apply(resource("a-interrupted", "anika", Some("unowned")))
        .await;
    Api::<ssc_operator::ServiceSpecificCredential>::namespaced(h.client(), NS)
        .patch_status(
            "a-interrupted",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {
                // Early in its window, so that the window is over soon: a Create that status
                // announces is waited out (the other shard may still be making it).
                "createRequestedAt": (created - jiff::SignedDuration::from_secs(58)).to_string(),
                "credentialsBeforeCreate": [],
            }})),
        )
        .await
        .unwrap();
    h.resources()
        .patch(
            "a-interrupted",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"ssc-operator.dev/shard": "a"}}})),
        )
        .await
        .unwrap();
    let r = h
        .wait_for("a-interrupted", "Ready with a credential of its own", |r| {
            r.ready_condition().is_some_and(|c| c.status == "True")
        })
        .await;
    assert_ne!(status(&r).credential_id.as_deref(), Some(held_id.as_str()));
    let secret = h.secret("b-held").await.unwrap();
    assert!(
        h.secret_works(&secret, "codecommit.amazonaws.com").await,
        "b-held's password still works: its credential was not reset by the other shard"
    );
    assert_eq!(
        h.iam_credentials("anika", "codecommit.amazonaws.com")
            .await
            .len(),
        2
    );
    drop(dir);
}
