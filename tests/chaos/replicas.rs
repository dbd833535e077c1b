//! The replicas: real `ssc-operator run` processes, each with its own stand-in token and IAM
//! access key so that the stand-in and the emulator record who sent every request.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::harness::Harness;
use crate::{LEASE_DURATION, LEASE_NS};
use kube_standin::TokenUser;

pub(crate) const COUNT: usize = 3;
/// The binary under test: this build's, or `SSC_CHAOS_BIN` (to run the suite against another
/// build, e.g. an older one).
fn binary() -> String {
    std::env::var("SSC_CHAOS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ssc-operator").into())
}

pub(crate) fn identity(n: usize) -> String {
    format!("replica-{n}")
}

/// The stand-in user each replica authenticates as (its identity).
pub(crate) fn identities() -> Vec<String> {
    (0..COUNT).map(identity).collect()
}

/// The IAM access key each replica signs with.
pub(crate) fn access_key(n: usize) -> String {
    format!("AKIDCHAOSREPLICA{n}")
}

/// The replicas' keys, as the emulator knows them: the user ssc-operator of the first account.
pub(crate) fn access_keys() -> Vec<iam_emulator::AccessKey> {
    (0..COUNT)
        .map(|n| iam_emulator::AccessKey {
            access_key_id: access_key(n),
            secret_access_key: "chaos-secret".into(),
            user: Some("ssc-operator".into()),
            account: None,
        })
        .collect()
}

fn token(n: usize) -> String {
    format!("chaos-token-{n}")
}

/// One cluster-admin token per replica.
pub(crate) fn tokens() -> Vec<TokenUser> {
    (0..COUNT)
        .map(|n| TokenUser {
            user: identity(n),
            ..TokenUser::admin(&token(n))
        })
        .collect()
}

pub(crate) struct Replicas {
    dir: PathBuf,
    kube_url: String,
    iam_url: String,
    children: Vec<Option<Child>>,
    paused: Vec<bool>,
}

impl Replicas {
    pub(crate) fn start(h: &Harness, dir: &Path) -> Replicas {
        let mut replicas = Replicas {
            dir: dir.to_path_buf(),
            kube_url: h.kube.url(),
            iam_url: h.emulator.endpoint_url(),
            children: (0..COUNT).map(|_| None).collect(),
            paused: vec![false; COUNT],
        };
        for n in 0..COUNT {
            replicas.spawn(n, None);
        }
        replicas
    }

    pub(crate) fn index_of(&self, identity: &str) -> Option<usize> {
        (0..COUNT).find(|n| self::identity(*n) == identity)
    }

    fn log_path(&self, n: usize) -> PathBuf {
        self.dir.join(format!("{}.log", identity(n)))
    }

    /// Starts replica `n` (its log appends across restarts), with an optional clock offset.
    pub(crate) fn spawn(&mut self, n: usize, clock_offset_secs: Option<i64>) {
        let kubeconfig = self.dir.join(format!("kubeconfig-{n}"));
        crate::harness::write_kubeconfig(&kubeconfig, &self.kube_url, &token(n));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(n))
            .unwrap();
        let lease = format!("{}s", LEASE_DURATION.as_secs());
        let mut args = vec![
            "run".to_string(),
            "--iam-endpoint-url".into(),
            self.iam_url.clone(),
            "--http-addr".into(),
            "127.0.0.1:0".into(),
            "--lease-duration".into(),
            lease,
            "--leader-renew-deadline".into(),
            "2s".into(),
            "--leader-retry-period".into(),
            "500ms".into(),
            "--shutdown-grace".into(),
            "3s".into(),
            "--resync-interval".into(),
            "20s".into(),
            // Resources deleted without their finalizer are swept within the run.
            "--orphan-grace".into(),
            "2s".into(),
            "--log-level".into(),
            "info,ssc_operator=debug,iam_emulator=debug".into(),
        ];
        if let Some(offset) = clock_offset_secs.filter(|s| *s != 0) {
            args.push(format!("--test-clock-offset={offset}s"));
        }
        // `--leader-renew-deadline` below must match `RENEW_DEADLINE`, which the audit uses.
        debug_assert_eq!(crate::RENEW_DEADLINE, std::time::Duration::from_secs(2));
        let child = Command::new(binary())
            .args(&args)
            .env("KUBECONFIG", &kubeconfig)
            .env("POD_NAME", identity(n))
            .env("POD_NAMESPACE", LEASE_NS)
            .env("AWS_ACCESS_KEY_ID", access_key(n))
            .env("AWS_SECRET_ACCESS_KEY", "chaos-secret")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("SSC_ALLOW_TEST_CLOCK_OFFSET", "yes")
            .env_remove("RUST_LOG")
            .env_remove("AWS_PROFILE")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start ssc-operator");
        self.children[n] = Some(child);
        self.paused[n] = false;
    }

    fn signal(&self, n: usize, signal: &str) {
        if let Some(child) = &self.children[n] {
            let _ = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
        }
    }

    /// Restarts every replica whose process has exited; how many.
    pub(crate) fn restart_exited(&mut self) -> usize {
        let exited: Vec<usize> = (0..COUNT)
            .filter(|n| {
                self.children[*n]
                    .as_mut()
                    .is_none_or(|c| c.try_wait().ok().flatten().is_some())
            })
            .collect();
        for n in &exited {
            self.spawn(*n, None);
        }
        exited.len()
    }

    /// SIGTERM replica `n` and wait (up to 10 s, then SIGKILL) for it to exit.
    pub(crate) fn terminate(&mut self, n: usize) {
        self.signal(n, "-TERM");
        if let Some(mut child) = self.children[n].take() {
            wait_or_kill(&mut child);
        }
    }

    pub(crate) fn kill(&mut self, n: usize) {
        if let Some(mut child) = self.children[n].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused[n] = false;
    }

    pub(crate) fn stop(&mut self, n: usize) {
        self.signal(n, "-STOP");
        self.paused[n] = true;
    }

    pub(crate) fn cont(&mut self, n: usize) {
        self.signal(n, "-CONT");
        self.paused[n] = false;
    }

    pub(crate) fn cont_all(&mut self) {
        for n in 0..COUNT {
            if self.paused[n] {
                self.cont(n);
            }
        }
    }

    /// SIGTERM every replica, waits for them, and returns each one's log.
    pub(crate) fn stop_all(&mut self) -> Vec<(String, String)> {
        self.cont_all();
        for n in 0..COUNT {
            self.signal(n, "-TERM");
        }
        for mut child in self.children.iter_mut().filter_map(Option::take) {
            wait_or_kill(&mut child);
        }
        (0..COUNT)
            .map(|n| {
                (
                    format!("{} log", identity(n)),
                    std::fs::read_to_string(self.log_path(n)).unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn wait_or_kill(child: &mut Child) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.wait();
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for child in self.children.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
