//! `ssc-operator demo`: try the operator with nothing installed. One process serves the
//! Kubernetes API stand-in (`kube-standin`, in memory, on 127.0.0.1 only) with the CRD installed,
//! runs the IAM emulator and the controller against both, and writes a kubeconfig for kubectl.
//! A local sandbox: nothing is persisted, nothing reaches AWS or a real cluster, and the API
//! server is not one to run anything else on.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Parser;
use kube_standin::{ApiServer, ApiServerConfig, TokenUser};

use crate::demo_accounts::DEMO_USERS;
use crate::operator::RunArgs;

/// Flags of `ssc-operator demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Port of the sandbox API server on 127.0.0.1 (default: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Where to write the kubeconfig for kubectl (default: a new private directory in the temp
    /// dir, so that no other local user can plant or swap it).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// IAM users the emulator starts with (repeatable or comma-separated). Default: `alice` and the users
    /// the manifests under `examples/` name.
    #[arg(
        long = "emulator-user",
        value_name = "NAME",
        value_delimiter = ',',
        default_values = DEMO_USERS
    )]
    pub emulator_users: Vec<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http_addr: std::net::SocketAddr,
}

/// Why the demo could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot listen on 127.0.0.1:{port} (choose another with --port, 0 for any)")]
    Listen {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("creating a private directory for the kubeconfig")]
    PrivateDir(#[source] std::io::Error),
    #[error("printing the instructions")]
    Print(#[from] std::io::Error),
    #[error("demo settings")]
    Settings(#[from] clap::Error),
    #[error(transparent)]
    Run(#[from] crate::operator::RunError),
}

/// `RunArgs` parsed as the `run` subcommand would parse them.
#[derive(Parser)]
struct Run {
    #[command(flatten)]
    args: RunArgs,
}

pub async fn run(args: DemoArgs) -> Result<(), DemoError> {
    // A fresh token per run: other local users cannot guess their way in.
    let token = format!("{:032x}", rand::random::<u128>());
    let server = ApiServer::try_start_with(ApiServerConfig {
        crds: crate::api::all_crds(),
        tokens: vec![TokenUser::admin(&token)],
        record_requests: false,
        port: args.port,
        tls: true,
        ..ApiServerConfig::default()
    })
    .await
    .map_err(|source| DemoError::Listen {
        port: args.port,
        source,
    })?;
    let kubeconfig = match args.kubeconfig.clone() {
        Some(path) => path,
        None => private_dir()
            .map_err(DemoError::PrivateDir)?
            .keep()
            .join("kubeconfig"),
    };
    let ca = server.ca_pem().unwrap_or_default();
    write_kubeconfig(&kubeconfig, &server.url(), ca, &token)?;

    let users = args.emulator_users.join(",");
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "ssc-operator demo: a local sandbox. An in-memory Kubernetes API server on {} (not a real\n\
         cluster: nothing is kept after exit; Deployments and RBAC objects are stored, never run or\n\
         enforced) with the ServiceSpecificCredential CRD, the IAM emulator with the IAM users\n\
         {users} (no AWS account is used), and the operator.\n\n\
         In another shell:\n\n  export KUBECONFIG={}\n  kubectl apply -f - <<'EOF'\n\
         apiVersion: iam.ssc-operator.dev/v1alpha1\nkind: ServiceSpecificCredential\n\
         metadata: {{ name: alice-git, namespace: default }}\n\
         spec: {{ userName: {}, serviceName: codecommit.amazonaws.com }}\nEOF\n\
         \x20 kubectl get ssc alice-git\n\
         \x20 kubectl get secret alice-git -o jsonpath='{{.data.password}}' | base64 -d\n\n\
         Then, from the repository's root, every example (with the default users each resource turns\n\
         Ready and each Secret holds its keys):\n\n\
         \x20 kubectl apply -R -f examples/\n\
         \x20 kubectl get ssc -A\n\n\
         Ctrl-C stops it.\n",
        server.url(),
        kubeconfig.display(),
        args.emulator_users.first().map_or("alice", String::as_str),
    )?;
    out.flush()?;
    drop(out);

    let run = Run::try_parse_from([
        "run",
        "--kubeconfig",
        &kubeconfig.to_string_lossy(),
        "--embedded-emulator",
        "--emulator-user",
        &users,
        "--policy",
        "permissive",
        "--leader-elect",
        "false",
        "--log-format",
        "text",
        "--http-addr",
        &args.http_addr.to_string(),
        "--resync-interval",
        "1m",
        "--region",
        "us-east-1",
    ])?;
    let mut run = run;
    run.args.demo_identities = true;
    let result = crate::operator::run(run.args).await;
    drop(server);
    Ok(result?)
}

/// A new directory in the temp dir that only this user may enter.
fn private_dir() -> std::io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("ssc-demo-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    builder.tempdir()
}

/// A kubeconfig (mode 0600: it holds the token) for the sandbox, context namespace `default`.
/// Written to a new file beside `path` and renamed over it: a symlink planted at `path` is
/// replaced, never followed.
fn write_kubeconfig(path: &Path, url: &str, ca_pem: &str, token: &str) -> Result<(), DemoError> {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: ssc-demo\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\n\
         users:\n- name: ssc-demo\n  user:\n    token: {token}\ncontexts:\n- name: ssc-demo\n  context:\n\
         \x20   cluster: ssc-demo\n    user: ssc-demo\n    namespace: default\ncurrent-context: ssc-demo\n"
    );
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let failed = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| DemoError::File { what, path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed("creating", dir))?;
    // tempfile creates it with mode 0600.
    let mut file =
        tempfile::NamedTempFile::new_in(dir).map_err(failed("writing a kubeconfig in", dir))?;
    file.write_all(text.as_bytes())
        .map_err(failed("writing a kubeconfig in", dir))?;
    file.persist(path)
        .map_err(|error| failed("writing", path)(error.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo_accounts::DEMO_TENANT_USERS;

    /// The `spec.userName` of every ServiceSpecificCredential under `examples/` (README snippets are not
    /// applied by `-R -f`, so they do not count).
    fn example_users() -> Vec<String> {
        fn walk(dir: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("examples/ is readable") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    let text = std::fs::read_to_string(&path).expect("a manifest");
                    for doc in serde_yaml::Deserializer::from_str(&text) {
                        let doc = <serde_yaml::Value as serde::Deserialize>::deserialize(doc)
                            .expect("examples are YAML");
                        if doc["kind"].as_str() == Some("ServiceSpecificCredential") {
                            out.extend(doc["spec"]["userName"].as_str().map(str::to_string));
                        }
                    }
                }
            }
        }
        let mut users = Vec::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
            &mut users,
        );
        users.sort();
        users.dedup();
        users
    }

    #[test]
    fn the_demo_has_every_user_the_examples_name() {
        let users = example_users();
        assert!(users.len() >= 7, "the walk finds the examples: {users:?}");
        let missing: Vec<&String> = users
            .iter()
            .filter(|u| {
                !DEMO_USERS.contains(&u.as_str()) && !DEMO_TENANT_USERS.contains(&u.as_str())
            })
            .collect();
        assert!(
            missing.is_empty(),
            "examples name users the demo lacks: {missing:?}"
        );
    }

    #[test]
    fn the_demo_starts_with_those_users_by_default() {
        #[derive(Parser)]
        struct Demo {
            #[command(flatten)]
            args: DemoArgs,
        }
        let demo = Demo::try_parse_from(["demo"]).unwrap();
        assert_eq!(demo.args.emulator_users, DEMO_USERS);
    }
}
