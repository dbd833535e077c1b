//! The built binary, `ssc-operator emulator`, configured through `SSC_EMULATOR_*` variables: a variable that is
//! set but empty counts as unset, and a non-empty one still applies.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use clap::Args;
use iam_emulator::{EmulatorArgs, EmulatorConfig};

use crate::support::*;

const BINARY: &str = env!("CARGO_BIN_EXE_ssc-operator");

/// Every `SSC_EMULATOR_*` variable that `ssc-operator emulator` reads, taken from its clap definition.
fn emulator_variables() -> Vec<String> {
    let cmd = EmulatorArgs::augment_args(clap::Command::new("emulator"));
    let vars: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    for expected in [
        "SSC_EMULATOR_LISTEN",
        "SSC_EMULATOR_STATE_FILE",
        "SSC_EMULATOR_USERS",
        "SSC_EMULATOR_ACCESS_KEYS",
        "SSC_EMULATOR_DISABLED_SERVICES",
        "SSC_EMULATOR_LOG_FORMAT",
    ] {
        assert!(vars.iter().any(|v| v == expected), "{expected} in {vars:?}");
    }
    assert!(
        vars.iter().all(|v| v.starts_with("SSC_EMULATOR_")),
        "{vars:?}"
    );
    vars
}

/// `ssc-operator emulator ARGS` with only `vars` among the `SSC_*` variables (the host's are removed).
fn command(vars: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(BINARY);
    cmd.arg("emulator").args(args);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SSC_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "info").env("NO_COLOR", "1");
    cmd.envs(vars.iter().map(|(k, v)| (k, v)));
    cmd
}

/// A running emulator process; killed (SIGKILL) when dropped.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) endpoint: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the process and waits for its "IAM emulator ready" line (stdout), which carries the endpoint.
pub(crate) fn spawn(vars: &[(String, String)], args: &[&str]) -> Running {
    let mut child = command(vars, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ssc-operator");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("IAM emulator ready")
                && let Some((_, rest)) = line.split_once("endpoint=")
            {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(endpoint) => Running { child, endpoint },
        Err(_) => {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the emulator did not become ready ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn all_empty() -> Vec<(String, String)> {
    emulator_variables()
        .into_iter()
        .map(|v| (v, String::new()))
        .collect()
}

#[tokio::test]
async fn empty_variables_count_as_unset() {
    let run = spawn(&all_empty(), &["--listen", "127.0.0.1:0"]);
    let health = http()
        .get(format!("{}/healthz", run.endpoint))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // Defaults everywhere: no seed users, no SigV4 (any key works), no faults, every service offered.
    let iam = sdk_as(
        &run.endpoint,
        "AKIDANYTHING",
        "anything",
        aws_sdk_iam::config::retry::RetryConfig::disabled(),
    );
    let users = iam.list_users().send().await.unwrap();
    assert!(users.users().is_empty());
    iam.create_user().user_name("dev").send().await.unwrap();
    let c = iam
        .create_service_specific_credential()
        .user_name("dev")
        .service_name("logs.amazonaws.com")
        .send()
        .await
        .unwrap()
        .service_specific_credential
        .unwrap();
    assert_eq!(
        c.service_credential_alias(),
        Some(format!("dev-at-{ACCOUNT}").as_str())
    );
    // No caller user: SSC_EMULATOR_CALLER_USER= did not name the user "".
    let e = iam.get_user().send().await.unwrap_err();
    assert_eq!(
        wire(&e).1,
        "Must specify userName when calling with non-User credentials"
    );
}

#[test]
fn empty_listen_falls_back_to_the_default() {
    // --max-body-bytes 0 makes the start fail after parsing and before binding, so the default port
    // (127.0.0.1:9600) is never taken. A clap error would exit 2 and name the flag.
    let out = command(&all_empty(), &["--max-body-bytes", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("max body bytes must be positive"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_non_empty_variable_is_still_an_error() {
    let vars = [("SSC_EMULATOR_LOG_FORMAT".to_string(), "yaml".to_string())];
    let out = command(&vars, &["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("yaml"), "{stderr}");
}

#[tokio::test]
async fn non_empty_variables_apply() {
    let vars: Vec<(String, String)> = [
        ("SSC_EMULATOR_USERS", "alice,bob"),
        ("SSC_EMULATOR_DISABLED_SERVICES", "logs.amazonaws.com,"),
        (
            "SSC_EMULATOR_UNSUPPORTED_SERVICE_CODE",
            "not-supported-service",
        ),
        ("SSC_EMULATOR_STATE_FILE", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let run = spawn(&vars, &["--listen", "127.0.0.1:0"]);
    let iam = sdk_as(
        &run.endpoint,
        "AKIDANYTHING",
        "anything",
        aws_sdk_iam::config::retry::RetryConfig::disabled(),
    );
    let users = iam.list_users().send().await.unwrap();
    let names: Vec<&str> = users.users().iter().map(|u| u.user_name()).collect();
    assert_eq!(names, ["alice", "bob"]);
    let e = iam
        .create_service_specific_credential()
        .user_name("alice")
        .service_name("logs.amazonaws.com")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.as_service_error()
            .unwrap()
            .is_service_not_supported_exception()
    );
    iam.create_service_specific_credential()
        .user_name("alice")
        .service_name("bedrock.amazonaws.com")
        .send()
        .await
        .unwrap();
}

/// The operator's `run --embedded-emulator` passes its `--emulator-user` list (also `SSC_EMULATOR_USERS`)
/// straight into `EmulatorConfig::users`; an empty item there must not stop the start either.
#[tokio::test]
async fn empty_seed_user_names_are_skipped_in_process() {
    let h = start_with(EmulatorConfig {
        users: vec![String::new(), "alice".into(), String::new()],
        ..Default::default()
    })
    .await;
    let iam = sdk(&h);
    let users = iam.list_users().send().await.unwrap();
    let names: Vec<&str> = users.users().iter().map(|u| u.user_name()).collect();
    assert_eq!(names, ["alice"]);
    // The first non-empty seed user is the caller.
    let me = iam.get_user().send().await.unwrap();
    assert_eq!(me.user.unwrap().user_name, "alice");
}
