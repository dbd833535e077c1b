//! The user commands of the real binary against the API stand-in: `status`, `rotate`, shell
//! completion, and the same binary run by kubectl itself as the plugin `kubectl ssc`.

use std::path::{Path, PathBuf};
use std::process::Output;

use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::harness::{Harness, NS, login_and_secret, status};

const BIN: &str = env!("CARGO_BIN_EXE_ssc-operator");

/// A kubeconfig for the stand-in whose context's namespace is the test namespace.
fn kubeconfig(dir: &Path, url: &str, token: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    crate::harness::write_kubeconfig_in(&path, url, token, NS);
    path
}

/// Runs `program args…` with `kubeconfig`, and `dir` first on PATH (where `kubectl-ssc` is).
async fn run(program: &Path, args: &[&str], kubeconfig: &Path, dir: &Path) -> Output {
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    tokio::process::Command::new(program)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("PATH", path)
        .output()
        .await
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_rotate_work_from_the_binary_and_as_a_kubectl_plugin() {
    let mut h = Harness::start().await;
    h.apply(json!({
        "metadata": {"name": "cli-git", "namespace": NS},
        "spec": {"userName": "sofia", "serviceName": "codecommit.amazonaws.com"}
    }))
    .await;
    let r = h.wait_ready("cli-git").await;
    let id = status(&r).credential_id.unwrap();
    let first = h.secret("cli-git").await.unwrap();
    let (_, password) = login_and_secret(&first);

    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(BIN, dir.path().join("kubectl-ssc")).unwrap();
    let admin = kubeconfig(dir.path(), &h.kube.url(), &h.kube.admin_token());

    let report = stdout(&run(Path::new(BIN), &["status", "cli-git"], &admin, dir.path()).await);
    for needle in [
        "team-a/cli-git",
        "True (Available)",
        id.as_str(),
        "cli-git: matches its digest",
        "1 of 2 credentials",
        "CredentialCreated",
    ] {
        assert!(report.contains(needle), "missing {needle:?} in\n{report}");
    }
    assert!(!report.contains(&password), "password printed");

    // kubectl finds the plugin on PATH; an edited Secret is reported as such (the operator is
    // stopped so it cannot repair it first).
    h.stop_operator().await;
    h.secrets()
        .patch(
            "cli-git",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"password": "typed-by-hand"}})),
        )
        .await
        .unwrap();
    let report = stdout(
        &run(
            Path::new("kubectl"),
            &["ssc", "status", "cli-git", "-n", NS],
            &admin,
            dir.path(),
        )
        .await,
    );
    assert!(report.contains("EDITED"), "{report}");
    assert!(!report.contains("typed-by-hand"), "{report}");
    // A status the operator's types cannot read (a wildcard Role writes status) does not stop
    // the report: the rest of the resource is shown.
    h.untyped_resources(h.client())
        .patch_status(
            "cli-git",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"expirationDate": "9999-12-31T00:00:00Z"}})),
        )
        .await
        .unwrap();
    let report = stdout(&run(Path::new(BIN), &["status", "cli-git"], &admin, dir.path()).await);
    assert!(report.contains("team-a/cli-git"), "{report}");
    h.start_operator().await;
    h.wait_secret("cli-git", |s| {
        let (_, now) = login_and_secret(s);
        now != "typed-by-hand" && now != password
    })
    .await;

    // A tenant rotates its own resource through kubectl and sees it done.
    let tenant_dir = tempfile::tempdir().unwrap();
    let tenant = kubeconfig(
        tenant_dir.path(),
        &h.kube.url(),
        crate::harness::TENANT_TOKEN,
    );
    let before = h.secret("cli-git").await.unwrap();
    let out = run(
        Path::new("kubectl"),
        &["ssc", "rotate", "cli-git", "--timeout", "60s"],
        &tenant,
        dir.path(),
    )
    .await;
    let said = stdout(&out);
    assert!(said.starts_with("rotated team-a/cli-git"), "{said}");
    let after = h.secret("cli-git").await.unwrap();
    assert_ne!(login_and_secret(&after), login_and_secret(&before));
    h.assert_no_secret_leaks().await;

    // Errors name the resource and fail.
    let missing = run(Path::new(BIN), &["status", "nope"], &admin, dir.path()).await;
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("servicespecificcredential team-a/nope not found"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_the_operator_does_not_handle_times_out_with_the_reason() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().unwrap();
    let admin = kubeconfig(dir.path(), &h.kube.url(), &h.kube.admin_token());
    // A user IAM does not know: never Ready, so a rotation is never handled.
    h.apply(json!({
        "metadata": {"name": "ghost", "namespace": NS},
        "spec": {"userName": "ghost", "serviceName": "codecommit.amazonaws.com"}
    }))
    .await;
    h.wait_for_reason("ghost", "UserNotFound").await;
    let out = run(
        Path::new(BIN),
        &["rotate", "ghost", "--timeout", "2s"],
        &admin,
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("did not handle rotate request") && stderr.contains("UserNotFound"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_scripts_and_the_plugin_name() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("kubectl-ssc");
    std::os::unix::fs::symlink(BIN, &plugin).unwrap();
    let none = dir.path().join("none");
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&run(Path::new(BIN), &["completion", shell], &none, dir.path()).await);
        assert!(
            script.contains("ssc-operator") && script.contains("rotate"),
            "{shell}"
        );
    }
    let help = stdout(&run(&plugin, &["--help"], &none, dir.path()).await);
    assert!(help.contains("Usage: kubectl ssc"), "{help}");
}
