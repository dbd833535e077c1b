//! apps/v1 Deployments, StatefulSets and DaemonSets, for operators that restart workloads and
//! for manifests that include them. They are served like custom resources whose schema is the
//! OpenAPI schema of the Go types (from k8s-openapi): stored, validated and watched, never run
//! (no controller creates ReplicaSets or Pods, and `status` stays as written).

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionNames, CustomResourceDefinitionSpec,
    CustomResourceDefinitionVersion, CustomResourceSubresources, CustomResourceValidation,
    JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The three kinds, as CRD objects of group `apps` (made once per process).
pub(crate) fn crds() -> &'static [CustomResourceDefinition] {
    static CRDS: std::sync::OnceLock<Vec<CustomResourceDefinition>> = std::sync::OnceLock::new();
    CRDS.get_or_init(|| {
        vec![
            crd::<Deployment>("deployments", "deployment", "Deployment", &["deploy"]),
            crd::<StatefulSet>("statefulsets", "statefulset", "StatefulSet", &["sts"]),
            crd::<DaemonSet>("daemonsets", "daemonset", "DaemonSet", &["ds"]),
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

fn crd<T: schemars::JsonSchema>(
    plural: &str,
    singular: &str,
    kind: &str,
    short: &[&str],
) -> CustomResourceDefinition {
    CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("{plural}.apps")),
            ..ObjectMeta::default()
        },
        spec: CustomResourceDefinitionSpec {
            group: "apps".into(),
            names: CustomResourceDefinitionNames {
                plural: plural.into(),
                singular: Some(singular.into()),
                kind: kind.into(),
                list_kind: Some(format!("{kind}List")),
                short_names: Some(short.iter().map(|s| s.to_string()).collect()),
                categories: Some(vec!["all".into()]),
            },
            scope: "Namespaced".into(),
            versions: vec![CustomResourceDefinitionVersion {
                name: "v1".into(),
                served: true,
                storage: true,
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(schema::<T>()),
                }),
                subresources: Some(CustomResourceSubresources {
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
