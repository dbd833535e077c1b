use super::*;
use crate::api::{ROTATE_ANNOTATION, ServiceSpecificCredential};
use crate::reconcile::conditions::Reason;
use crate::reconcile::plan::Answered;
use crate::uid::UidKey;

fn resource(uid: &str, generation: i64) -> ServiceSpecificCredential {
    let mut r: ServiceSpecificCredential = serde_json::from_value(serde_json::json!({
        "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
        "metadata": {"name": "r", "namespace": "team-a", "uid": uid, "generation": generation},
        "spec": {"userName": "sofia", "serviceName": "codecommit.amazonaws.com"}
    }))
    .unwrap();
    r.metadata.generation = Some(generation);
    r
}

#[test]
fn attempts_count_per_reason_and_reset_on_ready() {
    let t = Tracked::default();
    let reported = Category::Reported;
    assert_eq!(t.attempt("a", reported(Reason::IamUnavailable)), 0);
    assert_eq!(t.attempt("a", reported(Reason::IamUnavailable)), 1);
    assert_eq!(t.attempt("a", reported(Reason::Throttled)), 0);
    assert_eq!(t.attempt("a", reported(Reason::Available)), 0);
    assert_eq!(t.attempt("a", reported(Reason::Throttled)), 0);
    assert_eq!(t.attempt("a", Category::Kubernetes), 0);
    assert_eq!(t.attempt("a", Category::Kubernetes), 1);
}

#[test]
fn backoff_holds_until_the_user_changes_the_resource() {
    let t = Tracked::default();
    let r = resource("a", 1);
    t.hold_off(&r, Some(Duration::from_secs(60)));
    assert!(t.waiting(&r).is_some());
    let mut annotated = r.clone();
    annotated
        .annotations_mut()
        .insert(ROTATE_ANNOTATION.into(), "1".into());
    assert!(t.waiting(&annotated).is_none(), "a rotate request");
    assert!(t.waiting(&resource("a", 2)).is_none(), "a spec change");
    t.hold_off(&r, None);
    assert!(t.waiting(&r).is_none());
}

#[test]
fn a_backoff_set_on_a_pass_s_copy_holds_for_the_cached_copy() {
    use crate::reconcile::CachedCredential;
    let cached = |r: &ServiceSpecificCredential| {
        let mut c = CachedCredential::from(r.clone());
        c.trim(&[]);
        c
    };
    let t = Tracked::default();
    let mut r = resource("a", 1);
    r.annotations_mut()
        .insert(ROTATE_ANNOTATION.into(), "1".into());
    t.hold_off(&r, Some(Duration::from_secs(60)));
    assert!(t.waiting(&cached(&r)).is_some());
    let mut again = r.clone();
    again
        .annotations_mut()
        .insert(ROTATE_ANNOTATION.into(), "2".into());
    assert!(t.waiting(&cached(&again)).is_none(), "a new rotate request");
    t.hold_off(&cached(&again), Some(Duration::from_secs(60)));
    assert!(t.waiting(&again).is_some());
}

#[test]
fn state_of_departed_resources_is_pruned() {
    let t = Tracked::default();
    for uid in ["kept", "gone"] {
        t.attempt(uid, Category::Reported(Reason::IamUnavailable));
        t.hold_off(&resource(uid, 1), Some(Duration::from_secs(60)));
        t.note_recorded(uid, "team-a", [&format!("ACCA-{uid}")]);
    }
    assert_eq!(t.len(), 2);
    t.retain_live(&[UidKey::of("kept")].into());
    assert_eq!(t.len(), 1);
    assert_eq!(
        t.recorded_elsewhere("ACCA-kept", "other").as_deref(),
        Some("team-a")
    );
    assert_eq!(t.recorded_elsewhere("ACCA-gone", "other"), None);
    assert_eq!(t.recorded_elsewhere("ACCA-kept", "kept"), None, "its own");
    t.note_recorded("kept", "team-a", [&"ACCA-new".to_string()]);
    assert_eq!(t.recorded_elsewhere("ACCA-kept", "other"), None, "replaced");
    t.forget("kept");
    assert_eq!(t.len(), 0);
}

#[test]
fn a_copy_of_a_version_we_replaced_trails_our_write() {
    let t = Tracked::default();
    assert!(!t.trails_own_write("a", Some("10")), "nothing written yet");
    for version in 10..20 {
        t.note_superseded("a", version.to_string());
    }
    assert!(t.trails_own_write("a", Some("19")));
    assert!(t.trails_own_write("a", Some("12")));
    assert!(
        !t.trails_own_write("a", Some("11")),
        "only the last few are kept"
    );
    assert!(
        !t.trails_own_write("a", Some("20")),
        "the version our write made"
    );
    assert!(!t.trails_own_write("b", Some("19")));
    assert!(!t.trails_own_write("a", None));
}

/// Once the cache shows a version past our writes, nothing older comes from the watch and the
/// caches' claims include our writes: a resource at rest keeps nothing.
#[test]
fn a_copy_past_our_writes_forgets_them_and_what_they_recorded() {
    let t = Tracked::default();
    // Noted before a record write that failed: still claimed after a copy past our writes.
    t.note_recorded("a", "team-a", [&"ACCA0".to_string()]);
    assert!(!t.trails_own_write("a", Some("9")));
    assert_eq!(
        t.recorded_elsewhere("ACCA0", "b").as_deref(),
        Some("team-a")
    );
    // A later record write that does not hold it (made from a status that never took it)
    // vouches for nothing.
    t.note_landed("a", [&"OTHER".to_string()]);
    assert!(!t.trails_own_write("a", Some("9")));
    assert_eq!(
        t.recorded_elsewhere("ACCA0", "b").as_deref(),
        Some("team-a")
    );
    t.note_recorded("a", "team-a", [&"ACCA1".to_string()]);
    t.note_landed("a", [&"ACCA1".to_string()]);
    t.note_superseded("a", "10".into());
    t.note_superseded("a", "11".into());
    assert!(t.trails_own_write("a", Some("11")));
    assert_eq!(
        t.recorded_elsewhere("ACCA1", "b").as_deref(),
        Some("team-a")
    );
    assert!(
        !t.trails_own_write("a", Some("12")),
        "the version our write made"
    );
    assert!(!t.trails_own_write("a", Some("11")), "forgotten");
    assert_eq!(t.recorded_elsewhere("ACCA1", "b"), None);
    assert_eq!(t.len(), 0, "nothing kept of a resource at rest");
    // A backoff is kept through it.
    t.note_superseded("a", "12".into());
    t.hold_off(&resource("a", 1), Some(Duration::from_secs(60)));
    assert!(!t.trails_own_write("a", Some("13")));
    assert!(t.waiting(&resource("a", 1)).is_some());
    assert_eq!(t.len(), 1);
}

/// A request this process answered is kept until status shows it handled, another request is
/// asked or status names another credential, and survives the forgetting of our superseded
/// writes (its status write failed).
#[test]
fn an_answered_request_is_kept_until_status_shows_it_or_another_is_asked() {
    use crate::api::ServiceSpecificCredentialStatus as Status;
    let t = Tracked::default();
    let answered = Answered {
        request: "1".into(),
        credential_id: "ACCA1".into(),
        issued_at: "2026-12-01T10:00:00.000Z".into(),
        at: "2026-12-01T10:00:00Z".parse().unwrap(),
    };
    let status = |handled: Option<&str>, id: &str| Status {
        handled_rotate_request: handled.map(str::to_string),
        credential_id: Some(id.into()),
        ..Status::default()
    };
    t.note_answered("a", answered.clone());
    t.trails_own_write("a", Some("13"));
    let lagging = status(None, "ACCA1");
    assert_eq!(t.answered("a", &lagging, Some("1")), Some(answered.clone()));
    assert_eq!(
        t.answered("a", &status(Some("0"), "ACCA1"), Some("1")),
        Some(answered.clone())
    );
    assert_eq!(t.answered("b", &lagging, Some("1")), None);
    // Status shows it: forgotten, and the entry with it.
    assert_eq!(
        t.answered("a", &status(Some("1"), "ACCA1"), Some("1")),
        None
    );
    assert_eq!(t.answered("a", &lagging, Some("1")), None);
    assert_eq!(t.len(), 0);
    // Another request asked, or another credential held: forgotten.
    t.note_answered("a", answered.clone());
    assert_eq!(t.answered("a", &lagging, Some("2")), None);
    assert_eq!(t.answered("a", &lagging, Some("1")), None);
    t.note_answered("a", answered.clone());
    assert_eq!(t.answered("a", &status(None, "ACCA2"), Some("1")), None);
    assert_eq!(t.answered("a", &lagging, Some("1")), None);
    assert_eq!(t.len(), 0);
}
