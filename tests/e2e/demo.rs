//! `ssc-operator demo`, the README's first command: with nothing installed, kubectl applies a
//! resource and reads its Secret through the sandbox the binary serves.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ssc-operator");

fn kubectl(kubeconfig: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `ssc-operator demo` writing its kubeconfig to `kubeconfig`, with `extra` flags; returns the process and
/// its banner, which says how to use it and is printed once everything listens, and its stdout (kept open
/// for as long as the process runs: it may print more).
fn start_demo(
    kubeconfig: &std::path::Path,
    extra: &[&str],
) -> (
    std::process::Child,
    String,
    BufReader<std::process::ChildStdout>,
) {
    let mut child = Command::new(BIN)
        .args([
            "demo",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--http-addr",
            "127.0.0.1:0",
        ])
        .args(extra)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    while !banner.contains("Ctrl-C stops it.") {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "{banner}");
        banner.push_str(&line);
    }
    (child, banner, stdout)
}

#[test]
fn demo_serves_a_sandbox_kubectl_can_use_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("demo").join("kubeconfig");
    // A symlink planted where the kubeconfig goes is replaced, never written through.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::create_dir_all(kubeconfig.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&victim, &kubeconfig).unwrap();
    let (mut child, banner, _stdout) = start_demo(&kubeconfig, &["--emulator-user", "alice,bob"]);
    let export = format!("export KUBECONFIG={}", kubeconfig.display());
    assert!(banner.contains(&export), "{banner}");
    assert!(banner.contains("alice,bob"), "{banner}");

    // Loopback and TLS only; the kubeconfig, which holds the token, is private.
    let config = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(config.contains("server: https://127.0.0.1:"), "{config}");
    assert!(config.contains("certificate-authority-data: "), "{config}");
    let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    assert!(!std::fs::symlink_metadata(&kubeconfig).unwrap().is_symlink());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

    let manifest = "apiVersion: iam.ssc-operator.dev/v1alpha1\nkind: ServiceSpecificCredential\n\
                    metadata: { name: alice-git, namespace: default }\n\
                    spec: { userName: alice, serviceName: codecommit.amazonaws.com }\n";
    let (ok, said) = kubectl(&kubeconfig, &["apply", "-f", "-"], Some(manifest));
    assert!(ok, "{said}");
    assert!(said.contains("created"), "{said}");
    // What the CRD schema refuses, kubectl reports.
    let bad = manifest.replace("codecommit.amazonaws.com", "nope.amazonaws.com");
    let (ok, said) = kubectl(&kubeconfig, &["apply", "-f", "-"], Some(&bad));
    assert!(!ok && said.contains("spec.serviceName"), "{said}");

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, ready) = kubectl(
            &kubeconfig,
            &[
                "get",
                "ssc",
                "alice-git",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ],
            None,
        );
        if ready == "True" {
            break;
        }
        assert!(Instant::now() < deadline, "never Ready: {ready}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (ok, password) = kubectl(
        &kubeconfig,
        &[
            "get",
            "secret",
            "alice-git",
            "-o",
            "jsonpath={.data.password}",
        ],
        None,
    );
    assert!(ok && password.len() > 40, "{password}");

    let status = crate::binary::sigterm_and_wait(&mut child);
    assert!(status.success(), "{status:?}");
}

#[test]
fn demo_on_a_taken_port_says_so() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--port", &port, "--kubeconfig"])
        .arg(dir.path().join("kubeconfig"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")) && stderr.contains("--port"),
        "{stderr}"
    );
}

#[test]
fn demo_keeps_its_kubeconfig_in_a_new_private_directory_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["demo", "--http-addr", "127.0.0.1:0"])
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    let path = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "{banner}");
        banner.push_str(&line);
        if let Some(path) = line.trim().strip_prefix("export KUBECONFIG=") {
            break std::path::PathBuf::from(path);
        }
    };
    child.kill().unwrap();
    let _ = child.wait();
    let dir = path.parent().unwrap();
    assert!(dir.starts_with(tmp.path()), "{}", dir.display());
    let mode = std::fs::metadata(dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    assert!(path.is_file());
}

/// `kubectl get ... -o json`: the parsed stdout, or `None` when kubectl failed (stderr, which may carry
/// warnings, is never parsed).
fn kubectl_json(kubeconfig: &std::path::Path, args: &[&str]) -> Option<serde_json::Value> {
    let out = Command::new("kubectl")
        .args(args)
        .args(["-o", "json"])
        .env("KUBECONFIG", kubeconfig)
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

/// How many documents of `kind` the manifests under `examples/` hold.
fn example_documents(kind: &str) -> usize {
    fn walk(dir: &std::path::Path, kind: &str, n: &mut usize) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, kind, n);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                for doc in serde_yaml::Deserializer::from_str(&text) {
                    let doc = <serde_yaml::Value as serde::Deserialize>::deserialize(doc).unwrap();
                    if doc["kind"].as_str() == Some(kind) {
                        *n += 1;
                    }
                }
            }
        }
    }
    let mut n = 0;
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        kind,
        &mut n,
    );
    n
}

/// What a newcomer does after the first resource: `kubectl apply -R -f examples/` against the demo. Every
/// resource turns Ready, every Secret holds its keys (the service's two, and each key of its template), the
/// Deployments and the tenant example's RBAC objects are stored as written.
#[test]
fn a_newcomer_applies_every_example_to_the_demo_and_all_turn_ready() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (mut child, banner, _stdout) = start_demo(&kubeconfig, &[]);
    assert!(banner.contains("kubectl apply -R -f examples/"), "{banner}");
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let (ok, said) = kubectl(&kubeconfig, &["apply", "-R", "-f", examples], None);
    assert!(ok, "kubectl apply -R -f examples/ failed:\n{said}");

    let expected = example_documents("ServiceSpecificCredential");
    assert_eq!(expected, 9, "the examples' credentials");
    let ready = |r: &serde_json::Value| {
        r["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let resources = loop {
        // A failed get (the sandbox busy) is tried again until the deadline.
        let items = kubectl_json(&kubeconfig, &["get", "ssc", "-A"])
            .and_then(|list| list["items"].as_array().cloned())
            .unwrap_or_default();
        if items.len() == expected && items.iter().all(ready) {
            break items;
        }
        let waiting: Vec<String> = items
            .iter()
            .filter(|r| !ready(r))
            .map(|r| {
                format!(
                    "{}/{}: {}",
                    r["metadata"]["namespace"], r["metadata"]["name"], r["status"]["conditions"]
                )
            })
            .collect();
        assert!(
            Instant::now() < deadline,
            "{} of {expected} listed; never Ready: {waiting:#?}",
            items.len()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    for r in &resources {
        let namespace = r["metadata"]["namespace"].as_str().unwrap();
        let secret = r["status"]["secretName"].as_str().unwrap();
        let service = r["spec"]["serviceName"].as_str().unwrap();
        let mut expected: Vec<String> =
            if service.starts_with("codecommit") || service.starts_with("cassandra") {
                vec!["username".into(), "password".into()]
            } else {
                vec!["alias".into(), "secret".into()]
            };
        if let Some(data) = r["spec"]["secret"]["template"]["data"].as_object() {
            expected.extend(data.keys().cloned());
        }
        let got = kubectl_json(&kubeconfig, &["-n", namespace, "get", "secret", secret])
            .unwrap_or_else(|| panic!("{namespace}/{secret} is not there"));
        for key in &expected {
            let value = got["data"][key].as_str().unwrap_or_default();
            assert!(!value.is_empty(), "{namespace}/{secret} lacks {key}");
        }
        // The template's type and labels, as its example's README promises (the Argo CD repository Secret).
        let template = &r["spec"]["secret"]["template"];
        if let Some(kind) = template["type"].as_str() {
            assert_eq!(got["type"], kind, "{namespace}/{secret}");
        }
        if let Some(labels) = template["labels"].as_object() {
            for (k, v) in labels {
                assert_eq!(
                    &got["metadata"]["labels"][k], v,
                    "{namespace}/{secret} label {k}"
                );
            }
        }
    }
    // The multi-account example mints through its two identities, each in its own account, and
    // both identities report the session the operator assumed.
    for (namespace, identity, account) in [
        ("payments", "payments", "123456789012"),
        ("analytics", "analytics", "210987654321"),
    ] {
        let r = resources
            .iter()
            .find(|r| r["metadata"]["namespace"] == namespace)
            .unwrap_or_else(|| panic!("no credential in {namespace}"));
        assert_eq!(r["status"]["identity"]["name"], identity, "{r}");
        assert_eq!(r["status"]["identity"]["accountId"], account, "{r}");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let identities = kubectl_json(&kubeconfig, &["get", "iamidentities"])
            .and_then(|l| l["items"].as_array().cloned())
            .unwrap_or_default();
        let assumed = identities
            .iter()
            .filter(|i| i["status"]["conditions"][0]["reason"] == "Assumed")
            .count();
        if assumed == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "identities never Ready: {identities:#?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // Stored as written, never run: every Deployment, and the tenant example's Role and RoleBinding.
    let deployments = kubectl_json(&kubeconfig, &["get", "deployments", "-A"]).unwrap();
    assert_eq!(
        deployments["items"].as_array().unwrap().len(),
        example_documents("Deployment")
    );
    let role = kubectl_json(
        &kubeconfig,
        &[
            "-n",
            "team-a-prod",
            "get",
            "role",
            "servicespecificcredential-editor",
        ],
    )
    .unwrap();
    assert!(!role["rules"].as_array().unwrap().is_empty(), "{role}");
    let bindings =
        kubectl_json(&kubeconfig, &["-n", "team-a-prod", "get", "rolebindings"]).unwrap();
    let binding = &bindings["items"][0];
    assert_eq!(
        binding["roleRef"]["name"],
        "servicespecificcredential-editor"
    );
    assert_eq!(binding["subjects"][0]["name"], "team-a");
    // Cluster-scoped RBAC too: a name with a colon, and a namespace the server clears, as kube-apiserver does.
    let cluster_role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n\
                        metadata: { name: \"ssc-demo:view\", namespace: default }\n\
                        rules: [{ apiGroups: [iam.ssc-operator.dev], resources: [servicespecificcredentials], verbs: [get, list] }]\n";
    let (ok, said) = kubectl(&kubeconfig, &["apply", "-f", "-"], Some(cluster_role));
    assert!(ok, "{said}");
    let stored = kubectl_json(&kubeconfig, &["get", "clusterrole", "ssc-demo:view"]).unwrap();
    assert!(stored["metadata"].get("namespace").is_none(), "{stored}");

    let status = crate::binary::sigterm_and_wait(&mut child);
    assert!(status.success(), "{status:?}");
}
