//! The CRDs, as `kubectl apply` and the chart take them.

use super::*;

/// The CRD as YAML, exactly what `crds/servicespecificcredentials.iam.ssc-operator.dev.yaml` holds.
pub(crate) fn crd_yaml() -> String {
    let crd = ServiceSpecificCredential::crd();
    serde_yaml::to_string(&crd).expect("a CRD always serializes to YAML")
}

/// Every CRD the operator needs: the resource and the operator's own record of what it minted.
pub fn all_crds()
-> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
{
    vec![
        ServiceSpecificCredential::crd(),
        crate::record::CredentialRecord::crd(),
        crate::identity::IAMIdentity::crd(),
    ]
}

/// What `ssc-operator crd` prints: every CRD, as YAML documents (each file of `crds/` holds one).
pub fn all_crds_yaml() -> String {
    [
        crd_yaml(),
        crate::record::crd_yaml(),
        crate::identity::api::crd_yaml(),
    ]
    .join("---\n")
}
