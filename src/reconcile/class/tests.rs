use super::*;
use serde_json::json;

fn resource(value: serde_json::Value) -> ServiceSpecificCredential {
    let mut base = json!({
        "apiVersion": "iam.ssc-operator.dev/v1alpha1",
        "kind": "ServiceSpecificCredential",
        "metadata": {"name": "web", "namespace": "team-a", "generation": 1},
        "spec": {"userName": "sofia", "serviceName": "codecommit.amazonaws.com"}
    });
    json_patch_merge(&mut base, value);
    serde_json::from_value(base).unwrap()
}

fn json_patch_merge(base: &mut serde_json::Value, patch: serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                json_patch_merge(base.entry(key).or_insert(serde_json::Value::Null), value);
            }
        }
        (base, patch) => *base = patch,
    }
}

fn ready() -> serde_json::Value {
    json!({"status": {"observedGeneration": 1, "conditions": [{
        "type": "Ready", "status": "True", "reason": "Available", "message": "",
        "lastTransitionTime": "2026-12-01T00:00:00Z"
    }]}})
}

#[test]
fn deletion_first_then_new_work_then_rotations_then_checks() {
    let now: Timestamp = "2026-12-07T00:00:00Z".parse().unwrap();
    let deleting = resource(json!({"metadata": {"deletionTimestamp": "2026-12-06T00:00:00Z"}}));
    assert_eq!(pass_class(&ClassFacts::of(&deleting), now), Class::Urgent);
    assert_eq!(
        pass_class(&ClassFacts::of(&resource(json!({}))), now),
        Class::Create
    );
    let mut changed = resource(ready());
    changed.metadata.generation = Some(2);
    assert_eq!(pass_class(&ClassFacts::of(&changed), now), Class::Create);
    let mut asked = resource(ready());
    asked
        .annotations_mut()
        .insert(ROTATE_ANNOTATION.into(), "1".into());
    assert_eq!(pass_class(&ClassFacts::of(&asked), now), Class::Rotate);
    let mut due = resource(ready());
    due.status.as_mut().unwrap().next_rotation_time =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-12-06T00:00:00Z".parse().unwrap(),
        ));
    assert_eq!(pass_class(&ClassFacts::of(&due), now), Class::Rotate);
    assert_eq!(
        pass_class(&ClassFacts::of(&resource(ready())), now),
        Class::Routine
    );
}
