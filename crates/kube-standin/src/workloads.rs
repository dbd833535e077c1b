//! apps/v1 Deployments, StatefulSets and DaemonSets, for operators that restart workloads and
//! for manifests that include them, and rbac.authorization.k8s.io/v1 Roles, RoleBindings,
//! ClusterRoles and ClusterRoleBindings, for manifests that grant tenants access. They are served
//! like custom resources whose schema is the OpenAPI schema of the Go types (from k8s-openapi):
//! stored, validated and watched, never run (no controller creates ReplicaSets or Pods, and
//! `status` stays as written) and never enforced (who may do what is the stand-in's
//! [`crate::TokenUser`] rules, not these objects).

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionNames, CustomResourceDefinitionSpec,
    CustomResourceDefinitionVersion, CustomResourceSubresources, CustomResourceValidation,
    JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// How one of these kinds is served.
struct Kind<'a> {
    group: &'a str,
    plural: &'a str,
    singular: &'a str,
    kind: &'a str,
    short: &'a [&'a str],
    namespaced: bool,
    /// A `status` subresource (the workloads; RBAC objects have no status).
    status: bool,
}

const APPS: Kind<'static> = Kind {
    group: "apps",
    plural: "",
    singular: "",
    kind: "",
    short: &[],
    namespaced: true,
    status: true,
};
const RBAC: Kind<'static> = Kind {
    group: "rbac.authorization.k8s.io",
    plural: "",
    singular: "",
    kind: "",
    short: &[],
    namespaced: true,
    status: false,
};

/// The seven kinds, as CRD objects of groups `apps` and `rbac.authorization.k8s.io` (made once per
/// process).
pub(crate) fn crds() -> &'static [CustomResourceDefinition] {
    static CRDS: std::sync::OnceLock<Vec<CustomResourceDefinition>> = std::sync::OnceLock::new();
    CRDS.get_or_init(|| {
        let named = |base: Kind<'static>, plural, singular, kind, short| Kind {
            plural,
            singular,
            kind,
            short,
            ..base
        };
        let cluster = |k: Kind<'static>| Kind {
            namespaced: false,
            ..k
        };
        vec![
            crd::<Deployment>(named(
                APPS,
                "deployments",
                "deployment",
                "Deployment",
                &["deploy"],
            )),
            crd::<StatefulSet>(named(
                APPS,
                "statefulsets",
                "statefulset",
                "StatefulSet",
                &["sts"],
            )),
            crd::<DaemonSet>(named(APPS, "daemonsets", "daemonset", "DaemonSet", &["ds"])),
            crd::<Role>(named(RBAC, "roles", "role", "Role", &[])),
            crd::<RoleBinding>(named(
                RBAC,
                "rolebindings",
                "rolebinding",
                "RoleBinding",
                &[],
            )),
            crd::<ClusterRole>(cluster(named(
                RBAC,
                "clusterroles",
                "clusterrole",
                "ClusterRole",
                &[],
            ))),
            crd::<ClusterRoleBinding>(cluster(named(
                RBAC,
                "clusterrolebindings",
                "clusterrolebinding",
                "ClusterRoleBinding",
                &[],
            ))),
        ]
    })
}

/// The structural schema kube's CRD derive would make for `T`.
fn schema<T: schemars::JsonSchema>() -> JSONSchemaProps {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(schemars::transform::AddNullable::default())
        .with_transform(kube::core::schema::StructuralSchemaRewriter)
        .with_transform(kube::core::schema::OptionalEnum)
        .with_transform(kube::core::schema::OptionalIntOrString)
        .into_generator();
    let mut value =
        serde_json::to_value(generator.into_root_schema_for::<T>()).expect("a schema is JSON");
    // metadata is ObjectMeta, validated by the server itself (as for custom resources).
    if let Some(properties) = value.get_mut("properties").and_then(|p| p.as_object_mut()) {
        properties.insert("metadata".into(), serde_json::json!({"type": "object"}));
    }
    if let Some(required) = value.get_mut("required").and_then(|r| r.as_array_mut()) {
        required
            .retain(|field| !matches!(field.as_str(), Some("metadata" | "apiVersion" | "kind")));
    }
    serde_json::from_value(value).expect("k8s-openapi's schema is a JSONSchemaProps")
}

fn crd<T: schemars::JsonSchema>(k: Kind<'_>) -> CustomResourceDefinition {
    let Kind {
        group,
        plural,
        singular,
        kind,
        short,
        namespaced,
        status,
    } = k;
    CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("{plural}.{group}")),
            ..ObjectMeta::default()
        },
        spec: CustomResourceDefinitionSpec {
            group: group.into(),
            names: CustomResourceDefinitionNames {
                plural: plural.into(),
                singular: Some(singular.into()),
                kind: kind.into(),
                list_kind: Some(format!("{kind}List")),
                short_names: (!short.is_empty())
                    .then(|| short.iter().map(|s| s.to_string()).collect()),
                // kubectl's `all` is the workloads, not RBAC.
                categories: status.then(|| vec!["all".into()]),
            },
            scope: if namespaced { "Namespaced" } else { "Cluster" }.into(),
            versions: vec![CustomResourceDefinitionVersion {
                name: "v1".into(),
                served: true,
                storage: true,
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(schema::<T>()),
                }),
                subresources: status.then(|| CustomResourceSubresources {
                    status: Some(Default::default()),
                    scale: None,
                }),
                ..CustomResourceDefinitionVersion::default()
            }],
            ..CustomResourceDefinitionSpec::default()
        },
        status: None,
    }
}
