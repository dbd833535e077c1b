//! `examples/`: one folder per use of the operator, each a README and manifests. Every test here
//! applies every YAML document of one folder to the Kubernetes API stand-in as `kubectl apply
//! --server-side -f examples/NAME/` would (files in name order, documents in file order, each kind
//! found through discovery), runs the operator against the IAM emulator, and checks what the
//! example promises: the Secret's rendered keys, a working credential, consumers that read keys
//! the Secret has, rotations the consumers can follow. So the examples cannot rot.
//!
//! `every_example_has_a_readme_manifests_and_a_check` fails for a folder without manifests, without
//! a README or without a test below (and for a test whose folder is gone).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, PodSpec, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::discovery::{self, Scope};
use kube::{Client, ResourceExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use ssc_operator::IAMIdentity;
use ssc_operator::{ROTATE_ANNOTATION, ServiceSpecificCredential};

use crate::harness::{Harness, Options, data, login_and_secret, status};
use kube_standin::TokenUser;

/// Every folder of `examples/`, each with its test below.
const EXAMPLES: [&str; 7] = [
    "argocd-repository",
    "bedrock-api-key",
    "codecommit-git",
    "keyspaces-cassandra",
    "multi-account",
    "recreate-with-reloader",
    "tenant-namespace",
];

/// The IAM users the examples name; the emulator has them all.
const USERS: [&str; 10] = [
    // multi-account: one user in each of the demo's two accounts.
    "payments-git",
    "analytics-bedrock",
    "codecommit-reader",
    "argocd-repo-reader",
    "orders-keyspaces",
    "chatbot-bedrock",
    "web-reloader",
    "web-rollout",
    "team-a-git",
    // The refused example in tenant-namespace/README.md: it exists, the namespace does not allow it.
    "team-b-git",
];

const SSC_API_VERSION: &str = "iam.ssc-operator.dev/v1alpha1";
const SSC_KIND: &str = "ServiceSpecificCredential";
const FIELD_MANAGER: &str = "examples-e2e";
const ISSUED_AT: &str = "iam.ssc-operator.dev/issued-at";
const CREDENTIAL_ID: &str = "iam.ssc-operator.dev/credential-id";
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
const TENANT_TOKEN: &str = "team-a-developer-token";
const WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Reading the examples
// ---------------------------------------------------------------------------------------------

/// One YAML document of an example.
#[derive(Clone, Debug)]
struct Manifest {
    /// `folder/file.yaml`, for messages.
    file: String,
    doc: Value,
}

impl Manifest {
    fn str_at(&self, pointer: &str) -> Option<&str> {
        self.doc.pointer(pointer).and_then(Value::as_str)
    }

    fn api_version(&self) -> &str {
        self.str_at("/apiVersion").unwrap_or_default()
    }

    fn kind(&self) -> &str {
        self.str_at("/kind").unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.str_at("/metadata/name").unwrap_or_default()
    }

    fn namespace(&self) -> Option<&str> {
        self.str_at("/metadata/namespace")
    }

    fn is(&self, api_version: &str, kind: &str) -> bool {
        self.api_version() == api_version && self.kind() == kind
    }

    fn is_credential(&self) -> bool {
        self.is(SSC_API_VERSION, SSC_KIND)
    }

    fn is_namespace(&self) -> bool {
        self.is("v1", "Namespace")
    }

    /// The Secret a ServiceSpecificCredential writes: `spec.secret.name`, else its own name.
    fn secret_name(&self) -> &str {
        self.str_at("/spec/secret/name").unwrap_or(self.name())
    }

    fn what(&self) -> String {
        format!(
            "{} {}/{} ({})",
            self.kind(),
            self.namespace().unwrap_or("-"),
            self.name(),
            self.file
        )
    }

    /// The document as k8s-openapi's type `T`, which must hold all of it: a field the type does
    /// not know (a typo, a wrong indentation) is dropped on the way and fails the comparison.
    fn typed<T: DeserializeOwned + serde::Serialize>(&self) -> T {
        let typed: T = serde_json::from_value(self.doc.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", self.what()));
        let back = serde_json::to_value(&typed).expect("serializes");
        assert_eq!(
            back,
            self.doc,
            "{}: a field its type does not know was dropped (typo or wrong indentation?)",
            self.what()
        );
        typed
    }
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn example_folders() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .map(|entry| entry.expect("a directory entry"))
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The `*.yaml` files of an example, in the order `kubectl apply -f DIR` takes them (by name).
fn yaml_files(folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir().join(folder))
        .unwrap_or_else(|e| panic!("examples/{folder}: {e}"))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
}

/// The YAML documents of `text` (empty ones skipped).
fn documents(file: &str, text: &str) -> Vec<Manifest> {
    let mut out = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let doc = Value::deserialize(document).unwrap_or_else(|e| panic!("{file}: {e}"));
        if doc.is_null() {
            continue;
        }
        assert!(doc.is_object(), "{file}: a document that is not an object");
        out.push(Manifest {
            file: file.to_string(),
            doc,
        });
    }
    out
}

/// Every document of every manifest of an example, in apply order.
fn manifests(folder: &str) -> Vec<Manifest> {
    yaml_files(folder)
        .iter()
        .flat_map(|path| {
            let file = format!(
                "{folder}/{}",
                path.file_name().expect("a file name").to_string_lossy()
            );
            let text =
                std::fs::read_to_string(path).unwrap_or_else(|e| panic!("examples/{file}: {e}"));
            documents(&file, &text)
        })
        .collect()
}

fn readme(folder: &str) -> String {
    std::fs::read_to_string(examples_dir().join(folder).join("README.md"))
        .unwrap_or_else(|e| panic!("examples/{folder}/README.md: {e}"))
}

/// The documents of the ```yaml blocks of a README.
fn readme_yaml_blocks(folder: &str) -> Vec<Manifest> {
    let text = readme(folder);
    let file = format!("{folder}/README.md");
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + "```yaml\n".len()..];
        let end = body.find("```").expect("a closed code block");
        out.extend(documents(&file, &body[..end]));
        rest = &body[end + 3..];
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The check that needs no cluster
// ---------------------------------------------------------------------------------------------

#[test]
fn every_example_has_a_readme_manifests_and_a_check() {
    let folders = example_folders();
    assert_eq!(
        folders,
        EXAMPLES.map(String::from).to_vec(),
        "examples/ and the tests in tests/e2e/examples.rs differ: every folder needs its test (and \
         every test its folder)"
    );
    for folder in &folders {
        let text = readme(folder);
        assert!(
            text.contains("kubectl apply"),
            "examples/{folder}/README.md does not say how to apply it"
        );
        let files = yaml_files(folder);
        assert!(!files.is_empty(), "examples/{folder} has no manifests");
        for path in &files {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                text.contains(&name),
                "examples/{folder}/README.md does not mention {name}"
            );
        }
        let docs = manifests(folder);
        assert!(
            docs.iter().any(Manifest::is_credential),
            "examples/{folder} has no {SSC_KIND}"
        );
        // `kubectl apply -f examples/NAME/` must work on a cluster that has only the CRD: every
        // document names its namespace, and that Namespace comes earlier in the example.
        let mut namespaces = BTreeSet::new();
        for m in &docs {
            assert!(
                !m.api_version().is_empty() && !m.kind().is_empty() && !m.name().is_empty(),
                "{}: apiVersion, kind and metadata.name are required",
                m.what()
            );
            validate(m);
            if m.is_namespace() {
                namespaces.insert(m.name().to_string());
                continue;
            }
            if m.is(SSC_API_VERSION, "IAMIdentity") {
                // Cluster-scoped.
                continue;
            }
            let ns = m.namespace().unwrap_or_else(|| {
                panic!(
                    "{} names no namespace: `kubectl apply -f` would put it in the current one",
                    m.what()
                )
            });
            assert!(
                namespaces.contains(ns),
                "{}: its Namespace is not applied before it in the example",
                m.what()
            );
        }
        // Whole manifests shown in the README (not fragments) are checked the same way.
        for m in readme_yaml_blocks(folder) {
            if !m.api_version().is_empty() {
                validate(&m);
            }
        }
    }
}

/// Checks a document without a cluster: built-in kinds against k8s-openapi's types, credentials
/// against the operator's own validation and template check.
fn validate(m: &Manifest) {
    match (m.api_version(), m.kind()) {
        ("v1", "Namespace") => {
            m.typed::<Namespace>();
        }
        ("apps/v1", "Deployment") => {
            let deployment: Deployment = m.typed();
            check_pod(m, pod_spec(&deployment));
        }
        ("rbac.authorization.k8s.io/v1", "Role") => {
            m.typed::<Role>();
        }
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
            m.typed::<RoleBinding>();
        }
        (SSC_API_VERSION, SSC_KIND) => {
            let mut resource: ServiceSpecificCredential = serde_json::from_value(m.doc.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", m.what()));
            resource
                .spec
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", m.what()));
            assert!(
                USERS.contains(&resource.spec.user_name.as_str()),
                "{}: the test does not create the IAM user {} (add it to USERS)",
                m.what(),
                resource.spec.user_name
            );
            resource.metadata.uid = Some("00000000-0000-0000-0000-000000000000".into());
            ssc_operator::render_placeholder(&resource)
                .unwrap_or_else(|e| panic!("{}: {e}", m.what()));
        }
        (SSC_API_VERSION, "IAMIdentity") => {
            let identity: IAMIdentity = m.typed();
            ssc_operator::identity_chain(m.name(), identity.spec, &|_| None)
                .unwrap_or_else(|e| panic!("{}: {e}", m.what()));
        }
        (api_version, kind) => panic!(
            "{}: {api_version} {kind} is neither checked here nor known to be served by the \
             stand-in; add it to `validate`",
            m.what()
        ),
    }
}

fn pod_spec(deployment: &Deployment) -> &PodSpec {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("a Deployment with a pod template")
}

/// Every volume mount names a volume; no Secret volume is mounted with `subPath` (such a mount
/// never sees a rotated credential).
fn check_pod(m: &Manifest, pod: &PodSpec) {
    let volumes: BTreeSet<&str> = pod
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.as_str())
        .collect();
    let secret_volumes: BTreeSet<&str> = pod
        .volumes
        .iter()
        .flatten()
        .filter(|v| v.secret.is_some())
        .map(|v| v.name.as_str())
        .collect();
    for container in pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
    {
        for mount in container.volume_mounts.iter().flatten() {
            assert!(
                volumes.contains(mount.name.as_str()),
                "{}: container {} mounts the undeclared volume {}",
                m.what(),
                container.name,
                mount.name
            );
            assert!(
                !(secret_volumes.contains(mount.name.as_str()) && mount.sub_path.is_some()),
                "{}: container {} mounts the Secret volume {} with subPath, which is never updated",
                m.what(),
                container.name,
                mount.name
            );
        }
    }
}

/// Every (Secret, key) a pod reads; `None` for a whole Secret (`envFrom`, a volume without items).
fn secret_refs(pod: &PodSpec) -> Vec<(String, Option<String>)> {
    let mut refs = Vec::new();
    for volume in pod.volumes.iter().flatten() {
        if let Some(source) = &volume.secret {
            let name = source.secret_name.clone().unwrap_or_default();
            match &source.items {
                Some(items) => {
                    refs.extend(items.iter().map(|i| (name.clone(), Some(i.key.clone()))));
                }
                None => refs.push((name, None)),
            }
        }
    }
    for container in pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
    {
        for env in container.env.iter().flatten() {
            if let Some(selector) = env
                .value_from
                .as_ref()
                .and_then(|from| from.secret_key_ref.as_ref())
            {
                refs.push((selector.name.clone(), Some(selector.key.clone())));
            }
        }
        for from in container.env_from.iter().flatten() {
            if let Some(source) = &from.secret_ref {
                refs.push((source.name.clone(), None));
            }
        }
    }
    refs
}

/// Where `container` mounts the volume of Secret `secret`.
fn secret_mount_path(pod: &PodSpec, container: &str, secret: &str) -> Option<String> {
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| {
            v.secret
                .as_ref()
                .is_some_and(|s| s.secret_name.as_deref() == Some(secret))
        })?
        .name
        .clone();
    pod.containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
        .find(|c| c.name == container)?
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == volume)
        .map(|m| m.mount_path.clone())
}

/// Command and arguments of every container, one string each, by container name.
fn container_texts(pod: &PodSpec) -> BTreeMap<String, String> {
    pod.containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
        .map(|c| {
            let words: Vec<String> = c
                .command
                .iter()
                .flatten()
                .chain(c.args.iter().flatten())
                .cloned()
                .collect();
            (c.name.clone(), words.join(" "))
        })
        .collect()
}

/// The value of environment variable `name` in `container`.
fn env_value(pod: &PodSpec, container: &str, name: &str) -> Option<String> {
    pod.containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
        .find(|c| c.name == container)?
        .env
        .iter()
        .flatten()
        .find(|e| e.name == name)?
        .value
        .clone()
}

/// What the template's `urlencode` filter does: escape all but RFC 3986 unreserved characters.
fn urlencode(value: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, UNRESERVED).to_string()
}

// ---------------------------------------------------------------------------------------------
// Applying an example
// ---------------------------------------------------------------------------------------------

fn options() -> Options {
    Options {
        users: USERS.to_vec(),
        ..Options::default()
    }
}

/// Applies one document with server-side apply, its resource found through discovery (the
/// stand-in stores RBAC objects too, without enforcing them). `None` for a kind the stand-in does
/// not serve and the test only validates (`validate`).
async fn apply(client: &Client, m: &Manifest) -> Option<DynamicObject> {
    let (group, version) = m
        .api_version()
        .split_once('/')
        .unwrap_or(("", m.api_version()));
    let gvk = GroupVersionKind::gvk(group, version, m.kind());
    let (resource, capabilities) = match discovery::pinned_kind(client, &gvk).await {
        Ok(found) => found,
        Err(e) => panic!(
            "{}: the stand-in does not serve {} {}: {e}",
            m.what(),
            m.api_version(),
            m.kind()
        ),
    };
    let api: Api<DynamicObject> = match capabilities.scope {
        Scope::Namespaced => Api::namespaced_with(
            client.clone(),
            m.namespace()
                .expect("a namespaced document names its namespace"),
            &resource,
        ),
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    let applied = api
        .patch(
            m.name(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&m.doc),
        )
        .await
        .unwrap_or_else(|e| panic!("applying {}: {e}", m.what()));
    Some(applied)
}

/// An example applied, with its credentials Ready.
struct Applied {
    h: Harness,
    manifests: Vec<Manifest>,
    /// What the stand-in stored for each applied document, in apply order.
    objects: Vec<DynamicObject>,
    /// Each ServiceSpecificCredential once Ready, and its Secret, by (namespace, name).
    credentials: BTreeMap<(String, String), (ServiceSpecificCredential, Secret)>,
}

impl Applied {
    /// The example's only document of this kind.
    fn one(&self, kind: &str) -> &Manifest {
        let found: Vec<&Manifest> = self.manifests.iter().filter(|m| m.kind() == kind).collect();
        assert_eq!(found.len(), 1, "the example has exactly one {kind}");
        found[0]
    }

    /// The example's only credential and its Secret.
    fn only_credential(&self) -> (&ServiceSpecificCredential, &Secret) {
        assert_eq!(self.credentials.len(), 1, "the example has one credential");
        let (resource, secret) = self.credentials.values().next().unwrap();
        (resource, secret)
    }

    fn credential(&self, namespace: &str, name: &str) -> (&ServiceSpecificCredential, &Secret) {
        let (resource, secret) = &self.credentials[&(namespace.to_string(), name.to_string())];
        (resource, secret)
    }

    /// What the stand-in stored for a document.
    fn object(&self, kind: &str, namespace: &str, name: &str) -> &DynamicObject {
        self.objects
            .iter()
            .find(|o| {
                o.types.as_ref().is_some_and(|t| t.kind == kind)
                    && o.metadata.namespace.as_deref() == Some(namespace)
                    && o.metadata.name.as_deref() == Some(name)
            })
            .unwrap_or_else(|| panic!("{kind} {namespace}/{name} was applied"))
    }
}

/// Applies every document of `folder` in order, as `kubectl apply --server-side -f` would, with
/// the admin client, or the ServiceSpecificCredentials with `tenant_token`'s; waits until every
/// credential is Ready and checks what every example promises: a working credential in the
/// Secret, an `issued-at` annotation, Deployments that read only keys the Secrets have.
async fn apply_example(folder: &str, options: Options, tenant_token: Option<&str>) -> Applied {
    let manifests = manifests(folder);
    let h = Harness::start_with(options).await;
    let admin = h.client();
    let tenant = tenant_token.map(|token| h.kube.client_with_token(token));
    let mut objects = Vec::new();
    for m in &manifests {
        let client = match &tenant {
            Some(tenant) if m.is_credential() => tenant.clone(),
            _ => admin.clone(),
        };
        if let Some(object) = apply(&client, m).await {
            objects.push(object);
        }
    }

    let mut credentials = BTreeMap::new();
    for m in manifests.iter().filter(|m| m.is_credential()) {
        let ns = m.namespace().expect("a namespace");
        let resource = wait_ready_in(&h, ns, m.name()).await;
        let secret_name = status(&resource).secret_name.expect("status.secretName");
        assert_eq!(secret_name, m.secret_name(), "{}", m.what());
        let secret = Api::<Secret>::namespaced(admin.clone(), ns)
            .get(&secret_name)
            .await
            .unwrap_or_else(|e| panic!("{}: its Secret: {e}", m.what()));
        assert!(
            h.secret_works(&secret, resource.spec.service_name.as_str())
                .await,
            "{}: the Secret holds a credential the service accepts",
            m.what()
        );
        let issued_at = secret
            .annotations()
            .get(ISSUED_AT)
            .unwrap_or_else(|| panic!("{}: the Secret has {ISSUED_AT}", m.what()));
        issued_at
            .parse::<jiff::Timestamp>()
            .unwrap_or_else(|e| panic!("{}: {ISSUED_AT} {issued_at:?}: {e}", m.what()));
        credentials.insert((ns.to_string(), m.name().to_string()), (resource, secret));
    }

    // Every Secret a Deployment of the example reads is one of the example's, with the keys read.
    let secrets: BTreeMap<(String, String), BTreeMap<String, String>> = credentials
        .iter()
        .map(|((ns, _), (_, secret))| ((ns.clone(), secret.name_any()), data(secret)))
        .collect();
    for m in manifests.iter().filter(|m| m.is("apps/v1", "Deployment")) {
        let deployment: Deployment = m.typed();
        let ns = m.namespace().expect("a namespace").to_string();
        for (secret, key) in secret_refs(pod_spec(&deployment)) {
            let keys = secrets
                .get(&(ns.clone(), secret.clone()))
                .unwrap_or_else(|| {
                    panic!(
                        "{} reads the Secret {secret}, which no credential of the example writes",
                        m.what()
                    )
                });
            if let Some(key) = key {
                assert!(
                    keys.contains_key(&key),
                    "{} reads key {key} of Secret {secret}, which has {:?}",
                    m.what(),
                    keys.keys().collect::<Vec<_>>()
                );
            }
        }
    }

    assert_no_leaks(&h, &credentials).await;
    Applied {
        h,
        manifests,
        objects,
        credentials,
    }
}

/// No credential's secret appears in the operator's logs, in status or in Events
/// ([`Harness::assert_no_secret_leaks`] looks at [`crate::harness::NS`] only).
async fn assert_no_leaks(
    h: &Harness,
    credentials: &BTreeMap<(String, String), (ServiceSpecificCredential, Secret)>,
) {
    let logs = crate::harness::captured_logs();
    for ((ns, name), (_, secret)) in credentials {
        let (_, value) = login_and_secret(secret);
        assert!(
            value.len() >= 20,
            "{ns}/{name}: a secret long enough to search for"
        );
        let resources = Api::<ServiceSpecificCredential>::namespaced(h.client(), ns)
            .list(&ListParams::default())
            .await
            .expect("list resources")
            .items;
        let events = Api::<Event>::namespaced(h.client(), ns)
            .list(&ListParams::default())
            .await
            .expect("list Events")
            .items;
        let resources = serde_json::to_string(&resources).unwrap();
        let events = serde_json::to_string(&events).unwrap();
        for (place, text) in [("logs", &logs), ("status", &resources), ("Events", &events)] {
            assert!(
                !text.contains(&value),
                "{ns}/{name}: the secret appears in {place}"
            );
        }
    }
}

/// [`Harness::wait_ready`] in any namespace.
async fn wait_ready_in(h: &Harness, ns: &str, name: &str) -> ServiceSpecificCredential {
    h.wait_for_in(ns, name, "Ready=True at the current generation", |r| {
        r.ready_condition()
            .is_some_and(|c| c.status == "True" && c.observed_generation == r.metadata.generation)
            && r.status.as_ref().and_then(|s| s.observed_generation) == r.metadata.generation
    })
    .await
}

async fn wait_secret_in(
    h: &Harness,
    ns: &str,
    name: &str,
    what: &str,
    done: impl Fn(&Secret) -> bool,
) -> Secret {
    let api = Api::<Secret>::namespaced(h.client(), ns);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(secret) = api.get_opt(name).await.expect("get Secret")
            && done(&secret)
        {
            return secret;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for Secret {ns}/{name}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn annotation(secret: &Secret, key: &str) -> String {
    secret
        .annotations()
        .get(key)
        .cloned()
        .unwrap_or_else(|| panic!("Secret {} has {key}", secret.name_any()))
}

/// Asks for a rotation of a `Recreate` resource and checks the promise of its grace period: a new
/// credential in the Secret (new id, new `issued-at`), and the old one still working.
async fn rotate_recreate_and_check_grace(h: &Harness, ns: &str, name: &str) {
    let api = Api::<ServiceSpecificCredential>::namespaced(h.client(), ns);
    let before = api.get(name).await.expect("the resource");
    let service = before.spec.service_name.as_str();
    let old_id = status(&before).credential_id.expect("a credential");
    let secret_name = status(&before).secret_name.expect("a Secret");
    let old_secret = Api::<Secret>::namespaced(h.client(), ns)
        .get(&secret_name)
        .await
        .expect("the Secret");
    let (old_login, old_secret_value) = login_and_secret(&old_secret);
    let old_issued_at = annotation(&old_secret, ISSUED_AT);

    let patch = json!({"metadata": {"annotations": {ROTATE_ANNOTATION: "1"}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("rotate annotation set");
    let after = h
        .wait_for_in(
            ns,
            name,
            "the rotation handled with a new credential",
            |r| {
                let st = status(r);
                st.handled_rotate_request.as_deref() == Some("1")
                    && st.credential_id.as_deref().is_some_and(|id| id != old_id)
                    && r.ready_condition().is_some_and(|c| c.status == "True")
            },
        )
        .await;
    let new_id = status(&after).credential_id.expect("a credential");
    assert_eq!(
        status(&after).retiring_credential_id.as_deref(),
        Some(old_id.as_str()),
        "{ns}/{name}: Recreate keeps the previous credential until the grace period ends"
    );
    let new_secret = wait_secret_in(h, ns, &secret_name, "the new credential", |s| {
        s.annotations().get(CREDENTIAL_ID) == Some(&new_id)
    })
    .await;
    assert_ne!(
        annotation(&new_secret, ISSUED_AT),
        old_issued_at,
        "{ns}/{name}: {ISSUED_AT} changes with every new credential"
    );
    let (new_login, _) = login_and_secret(&new_secret);
    assert_ne!(new_login, old_login, "{ns}/{name}: the other slot's login");
    assert!(
        h.secret_works(&new_secret, service).await,
        "{ns}/{name}: the new credential works"
    );
    assert_eq!(
        h.check(service, &old_login, &old_secret_value).await["valid"],
        json!(true),
        "{ns}/{name}: the old credential still works during the grace period"
    );
}

// ---------------------------------------------------------------------------------------------
// One test per example
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codecommit_git() {
    let a = apply_example("codecommit-git", options(), None).await;
    let (resource, secret) = a.only_credential();
    let d = data(secret);
    assert_eq!(
        Some(d["username"].as_str()),
        status(resource).service_user_name.as_deref()
    );

    // `https://USER:PASSWORD@HOST`, both percent-encoded, one line.
    let line = &d[".git-credentials"];
    let userinfo = format!(
        "https://{}:{}@",
        urlencode(&d["username"]),
        urlencode(&d["password"])
    );
    assert!(
        line.starts_with(&userinfo),
        ".git-credentials starts with the percent-encoded login"
    );
    assert!(!line.contains('\n'), ".git-credentials is one line");
    let host = &line[userinfo.len()..];
    assert!(
        host.starts_with("git-codecommit.")
            && host.ends_with(".amazonaws.com")
            && !host.contains('/'),
        "the credential is for a CodeCommit host: {host}"
    );

    // The Deployment clones from that host (git's store matches protocol and host) and both of
    // its containers use the mounted file as their credential store.
    let m = a.one("Deployment");
    let deployment: Deployment = m.typed();
    let pod = pod_spec(&deployment);
    let texts = container_texts(pod);
    let clone = pod
        .init_containers
        .iter()
        .flatten()
        .find(|c| c.args.iter().flatten().any(|arg| arg == "clone"))
        .expect("an initContainer runs git clone");
    assert!(
        texts[&clone.name].contains(&format!("https://{host}/v1/repos/")),
        "{}: clones from {host}",
        m.what()
    );
    for container in pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
    {
        let mount = secret_mount_path(pod, &container.name, &secret.name_any())
            .unwrap_or_else(|| panic!("{}: {} mounts the Secret", m.what(), container.name));
        assert!(
            texts[&container.name].contains(&format!("store --file={mount}/.git-credentials")),
            "{}: {} uses the mounted .git-credentials",
            m.what(),
            container.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argocd_repository() {
    let a = apply_example("argocd-repository", options(), None).await;
    let (resource, secret) = a.only_credential();
    assert_eq!(secret.namespace().as_deref(), Some("argocd"));
    assert_eq!(
        secret
            .labels()
            .get("argocd.argoproj.io/secret-type")
            .map(String::as_str),
        Some("repository")
    );
    let d = data(secret);
    assert_eq!(d["type"], "git");
    assert!(
        d["url"].starts_with("https://git-codecommit.") && d["url"].contains("/v1/repos/"),
        "{}",
        d["url"]
    );
    assert_eq!(
        Some(d["username"].as_str()),
        status(resource).service_user_name.as_deref()
    );
    assert!(!d["password"].is_empty());

    // A template change re-renders the Secret with the same credential: issued-at stays.
    let ns = "argocd";
    let name = resource.name_any();
    let issued_at = annotation(secret, ISSUED_AT);
    let patch = json!({"spec": {"secret": {"template": {"data": {"project": "default"}}}}});
    Api::<ServiceSpecificCredential>::namespaced(a.h.client(), ns)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("template patched");
    let rerendered = wait_secret_in(&a.h, ns, &secret.name_any(), "the project key", |s| {
        data(s).get("project").map(String::as_str) == Some("default")
    })
    .await;
    assert_eq!(annotation(&rerendered, ISSUED_AT), issued_at);
    assert_eq!(
        annotation(&rerendered, CREDENTIAL_ID),
        annotation(secret, CREDENTIAL_ID)
    );
    assert_eq!(data(&rerendered)["password"], d["password"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspaces_cassandra() {
    let a = apply_example("keyspaces-cassandra", options(), None).await;
    let (_, secret) = a.only_credential();
    let d = data(secret);
    let conf = &d["application.conf"];
    for needle in [
        "datastax-java-driver {".to_string(),
        "basic.contact-points = [\"cassandra.".to_string(),
        ".amazonaws.com:9142\"]".to_string(),
        "class = PlainTextAuthProvider".to_string(),
        "advanced.ssl-engine-factory {".to_string(),
        format!("username = \"{}\"", d["username"]),
    ] {
        assert!(conf.contains(&needle), "application.conf lacks {needle:?}");
    }
    // Compared without printing: the password is a secret even in a test's output.
    assert!(
        conf.contains(&format!("password = \"{}\"", d["password"])),
        "application.conf holds the password in a double-quoted string"
    );
    assert_eq!(
        conf.matches('{').count(),
        conf.matches('}').count(),
        "application.conf has balanced braces"
    );

    // The application reads the mounted file.
    let m = a.one("Deployment");
    let deployment: Deployment = m.typed();
    let pod = pod_spec(&deployment);
    for container in &pod.containers {
        let mount = secret_mount_path(pod, &container.name, &secret.name_any())
            .unwrap_or_else(|| panic!("{}: {} mounts the Secret", m.what(), container.name));
        let java_options = env_value(pod, &container.name, "JAVA_TOOL_OPTIONS").unwrap_or_default();
        assert!(
            java_options.contains(&format!("-Dconfig.file={mount}/application.conf")),
            "{}: {} points the driver at the mounted application.conf",
            m.what(),
            container.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_api_key() {
    let a = apply_example("bedrock-api-key", options(), None).await;
    let (resource, secret) = a.only_credential();
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    let d = data(secret);
    assert!(d["secret"].starts_with("ABSK"), "a Bedrock bearer token");
    assert_eq!(
        Some(d["alias"].as_str()),
        status(resource).service_credential_alias.as_deref()
    );

    // credentialAgeDays: 30 and beforeExpiry: 72h.
    let st = status(resource);
    let created = st.create_date.as_ref().expect("createDate").0.as_second();
    let expires = st
        .expiration_date
        .as_ref()
        .expect("expirationDate")
        .0
        .as_second();
    assert!(
        (expires - created - 30 * 86_400).abs() <= 1,
        "expires 30 days after creation"
    );
    let next = st
        .next_rotation_time
        .as_ref()
        .expect("nextRotationTime")
        .0
        .as_second();
    assert!(
        (expires - next - 72 * 3_600).abs() <= 2,
        "renewed 72 hours before the expiry"
    );

    // The Deployment gets the bearer token as AWS_BEARER_TOKEN_BEDROCK, and Reloader watches the Secret.
    let m = a.one("Deployment");
    let deployment: Deployment = m.typed();
    let pod = pod_spec(&deployment);
    let token = pod
        .containers
        .iter()
        .flat_map(|c| c.env.iter().flatten())
        .find(|e| e.name == "AWS_BEARER_TOKEN_BEDROCK")
        .and_then(|e| e.value_from.as_ref())
        .and_then(|from| from.secret_key_ref.as_ref())
        .unwrap_or_else(|| panic!("{}: AWS_BEARER_TOKEN_BEDROCK from a secretKeyRef", m.what()));
    assert_eq!(
        (token.name.as_str(), token.key.as_str()),
        (secret.name_any().as_str(), "secret")
    );
    assert_eq!(
        deployment
            .annotations()
            .get("secret.reloader.stakater.com/reload")
            .map(String::as_str),
        Some(secret.name_any().as_str())
    );

    // With strategy Recreate an on-demand rotation renews like beforeExpiry does.
    rotate_recreate_and_check_grace(&a.h, "bedrock-api-key", &resource.name_any()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_with_reloader() {
    let a = apply_example(
        "recreate-with-reloader",
        Options {
            // The example's second variant asks the operator to restart `web`. (Its requests are
            // checked against the RBAC by operations::workloads_listed_for_rollout_restart_….)
            rollout_restart: true,
            record_requests: false,
            ..options()
        },
        None,
    )
    .await;
    let client = a.h.client();
    let deployments: Vec<&Manifest> = a
        .manifests
        .iter()
        .filter(|m| m.is("apps/v1", "Deployment"))
        .collect();
    assert_eq!(deployments.len(), 2, "one Deployment per alternative");
    for m in a.manifests.iter().filter(|m| m.is_credential()) {
        assert_eq!(
            m.str_at("/spec/rotation/strategy"),
            Some("Recreate"),
            "{}",
            m.what()
        );
        assert!(
            m.str_at("/spec/rotation/interval").is_some(),
            "{}",
            m.what()
        );
        assert!(
            m.str_at("/spec/rotation/gracePeriod").is_some(),
            "{}",
            m.what()
        );
    }

    // Reloader: the Deployment's annotation, nothing on the Secret.
    let reloaded = deployments
        .iter()
        .find(|m| m.str_at("/metadata/annotations/reloader.stakater.com~1auto") == Some("true"))
        .expect("a Deployment annotated reloader.stakater.com/auto");
    let reloader_ns = reloaded.namespace().expect("a namespace");
    let reloader_resource = a
        .manifests
        .iter()
        .find(|m| m.is_credential() && m.namespace() == Some(reloader_ns))
        .expect("the credential next to it");
    assert!(
        reloader_resource.doc["spec"]["rolloutRestart"].is_null(),
        "{}: the Reloader variant needs no rollout restart",
        reloader_resource.what()
    );

    // The operator's rollout restart: kept by the CRD as written.
    let restarting = a
        .manifests
        .iter()
        .find(|m| m.is_credential() && !m.doc["spec"]["rolloutRestart"].is_null())
        .expect("a credential with spec.rolloutRestart");
    let restart_ns = restarting.namespace().expect("a namespace");
    let stored = a.object(SSC_KIND, restart_ns, restarting.name());
    assert_eq!(
        stored.data["spec"]["rolloutRestart"],
        json!([{"kind": "Deployment", "name": "web"}]),
        "the API server keeps spec.rolloutRestart"
    );
    let web = Api::<Deployment>::namespaced(client.clone(), restart_ns);
    assert_eq!(
        restarted_at(&web.get("web").await.expect("Deployment web")),
        None,
        "no restart for the first credential"
    );

    // A rotation of each: the new credential in the Secret, the old one working for the grace.
    rotate_recreate_and_check_grace(&a.h, reloader_ns, reloader_resource.name()).await;
    rotate_recreate_and_check_grace(&a.h, restart_ns, restarting.name()).await;

    // Then the operator restarts `web`, with the new credential's issue time.
    let secret_name = restarting
        .str_at("/spec/secret/name")
        .unwrap_or(restarting.name())
        .to_string();
    let secrets = Api::<Secret>::namespaced(client.clone(), restart_ns);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let issued = secrets
            .get(&secret_name)
            .await
            .expect("the Secret")
            .annotations()
            .get("iam.ssc-operator.dev/issued-at")
            .cloned();
        let at = restarted_at(&web.get("web").await.expect("Deployment web"));
        if at.is_some() && at == issued {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after a new credential, Deployment web was not restarted: {at:?}, issued {issued:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The Reloader variant's Deployment is left to Reloader.
    let reloader_web = Api::<Deployment>::namespaced(client, reloader_ns)
        .get(reloaded.name())
        .await
        .expect("the Reloader variant's Deployment");
    assert_eq!(restarted_at(&reloader_web), None);
}

fn restarted_at(deployment: &Deployment) -> Option<String> {
    deployment
        .spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(RESTARTED_AT)
        .cloned()
}

/// Each namespace mints through its own identity, in its own account; the identities allow
/// exactly their namespace. (`demo::a_newcomer_applies_every_example_to_the_demo_and_all_turn_ready`
/// runs it against the demo's two accounts.)
#[test]
fn multi_account() {
    use ssc_operator::{AmbientPolicy, NamespaceFacts, Resolved, resolve_identity as resolve};
    let docs = manifests("multi-account");
    let identities: BTreeMap<String, IAMIdentity> = docs
        .iter()
        .filter(|m| m.is(SSC_API_VERSION, "IAMIdentity"))
        .map(|m| (m.name().to_string(), m.typed()))
        .collect();
    let namespaces: BTreeMap<String, Namespace> = docs
        .iter()
        .filter(|m| m.is_namespace())
        .map(|m| (m.name().to_string(), m.typed()))
        .collect();
    let lookup = |name: &str| identities.get(name).map(|i| i.spec.clone());
    let mut accounts = BTreeSet::new();
    for m in docs.iter().filter(|m| m.is_credential()) {
        let resource: ServiceSpecificCredential =
            serde_json::from_value(m.doc.clone()).expect("a credential");
        let ns = &namespaces[m.namespace().unwrap()];
        let facts = NamespaceFacts {
            name: m.namespace().unwrap(),
            labels: ns.metadata.labels.as_ref(),
            annotations: ns.metadata.annotations.as_ref(),
        };
        let requested = resource.spec.identity_ref.as_ref().map(|r| r.name.as_str());
        let resolved = resolve(
            requested,
            &facts,
            &resource.spec.user_name,
            &AmbientPolicy::None,
            &lookup,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", m.what()));
        let Resolved::Role(chain) = resolved else {
            panic!("{}: the operator's own identity", m.what())
        };
        accounts.insert(chain.account().to_string());
        // No other namespace of the example may use that identity.
        for (other, other_ns) in namespaces.iter().filter(|(n, _)| *n != facts.name) {
            let facts = NamespaceFacts {
                name: other,
                labels: other_ns.metadata.labels.as_ref(),
                annotations: None,
            };
            assert!(
                resolve(
                    Some(chain.name()),
                    &facts,
                    &resource.spec.user_name,
                    &AmbientPolicy::None,
                    &lookup
                )
                .is_err(),
                "IAMIdentity {} also serves {other}",
                chain.name()
            );
        }
    }
    assert_eq!(accounts.len(), 2, "two accounts: {accounts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_namespace() {
    let folder = "tenant-namespace";
    let docs = manifests(folder);
    let namespace = docs
        .iter()
        .find(|m| m.is_namespace())
        .expect("the tenant's Namespace");
    let ns = namespace.name().to_string();
    assert_eq!(
        namespace.str_at("/metadata/annotations/iam.ssc-operator.dev~1allowed-users"),
        Some("team-a-*")
    );

    // The Role and its binding: the team gets the kind, not its status.
    let role: Role = docs
        .iter()
        .find(|m| m.is("rbac.authorization.k8s.io/v1", "Role"))
        .expect("a Role")
        .typed();
    let binding: RoleBinding = docs
        .iter()
        .find(|m| m.is("rbac.authorization.k8s.io/v1", "RoleBinding"))
        .expect("a RoleBinding")
        .typed();
    assert_eq!(role.metadata.namespace.as_deref(), Some(ns.as_str()));
    assert_eq!(binding.metadata.namespace.as_deref(), Some(ns.as_str()));
    assert_eq!(
        (
            binding.role_ref.kind.as_str(),
            binding.role_ref.name.as_str()
        ),
        ("Role", role.metadata.name.as_deref().unwrap_or_default())
    );
    let rules = role.rules.clone().unwrap_or_default();
    for rule in &rules {
        for resource in rule.resources.iter().flatten() {
            assert!(
                !["*", "*/status", "servicespecificcredentials/status"]
                    .contains(&resource.as_str()),
                "the Role grants {resource}: status is the operator's record"
            );
        }
    }
    let subject = binding
        .subjects
        .as_ref()
        .and_then(|s| s.first())
        .expect("a subject");
    let base = TokenUser::with_role_in(TENANT_TOKEN, "team-a-developer", &ns, rules);
    let member = match subject.kind.as_str() {
        "Group" => TokenUser {
            groups: vec![subject.name.clone()],
            ..base
        },
        "User" => TokenUser {
            user: subject.name.clone(),
            ..base
        },
        other => panic!("a RoleBinding subject of kind {other}"),
    };

    // The platform team applies the Namespace, team A (a token with exactly the Role's rules)
    // the credential.
    let a = apply_example(
        folder,
        Options {
            extra_tokens: vec![member],
            ..options()
        },
        Some(TENANT_TOKEN),
    )
    .await;
    let tenant = a.h.kube.client_with_token(TENANT_TOKEN);
    let (resource, _) = a.credential(&ns, "team-a-git");
    let secret_name = status(resource).secret_name.expect("a Secret");
    let read = Api::<Secret>::namespaced(tenant.clone(), &ns)
        .get(&secret_name)
        .await
        .expect("team A reads its Secret");
    assert!(
        a.h.secret_works(&read, resource.spec.service_name.as_str())
            .await
    );
    let forged = json!({"status": {"credentialId": "ACCAFORGEDFORGEDFORGED"}});
    match Api::<ServiceSpecificCredential>::namespaced(tenant.clone(), &ns)
        .patch_status(
            &resource.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&forged),
        )
        .await
    {
        Err(kube::Error::Api(s)) if s.is_forbidden() => {}
        other => panic!("team A must not write status: {other:?}"),
    }

    // The refused example of the README: accepted by the API server, refused by the operator
    // before any IAM call.
    let refused: Vec<Manifest> = readme_yaml_blocks(folder)
        .into_iter()
        .filter(Manifest::is_credential)
        .collect();
    assert!(!refused.is_empty(), "the README shows a refused credential");
    for m in &refused {
        assert_eq!(m.namespace(), Some(ns.as_str()), "{}", m.what());
        apply(&tenant, m).await.expect("served");
        let r =
            a.h.wait_for_in(&ns, m.name(), "Ready reason NotPermitted", |r| {
                r.ready_condition()
                    .is_some_and(|c| c.reason == "NotPermitted")
            })
            .await;
        let message = &r.ready_condition().expect("Ready").message;
        assert!(
            message.contains("is not allowed in namespace") && message.contains("team-a-*"),
            "{message}"
        );
        let user = r.spec.user_name.clone();
        assert!(
            a.h.iam_credentials(&user, r.spec.service_name.as_str())
                .await
                .is_empty(),
            "no credential was made for {user}"
        );
        let secret = Api::<Secret>::namespaced(a.h.client(), &ns)
            .get_opt(m.secret_name())
            .await
            .expect("get Secret");
        assert!(secret.is_none(), "no Secret for a refused resource");
    }
}
