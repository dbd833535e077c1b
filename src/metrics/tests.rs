use super::*;

#[test]
fn exposition_has_every_family() {
    let m = Metrics::new();
    let r = ObjectRef::<ServiceSpecificCredential>::new("a").within("ns");
    m.reconciled(&r, Ok(Reason::Available), Duration::from_millis(20));
    m.reconciled(&r, Err(&Error::NotLeader), Duration::from_millis(1));
    m.call(
        "123456789012",
        "CreateServiceSpecificCredential",
        Ok(()),
        Duration::ZERO,
    );
    m.call(
        "210987654321",
        "ListServiceSpecificCredentials",
        Err(&IamError::Throttled {
            message: "Rate exceeded".into(),
        }),
        Duration::from_millis(3),
    );
    m.set_leader(true);
    m.swept("orphaned");
    m.unclaimed(2);
    let text = m.encode();
    for needle in [
        "ssc_operator_swept_credentials_total{cause=\"orphaned\"} 1",
        "ssc_operator_unclaimed_credentials_total 2",
        "ssc_operator_reconciles_total{result=\"Available\"} 1",
        "ssc_operator_reconciles_total{result=\"error\"} 1",
        "ssc_operator_reconcile_errors_total{category=\"NotLeader\"} 1",
        "ssc_operator_reconcile_duration_seconds_count 2",
        "ssc_operator_iam_calls_total{account=\"123456789012\",operation=\"CreateServiceSpecificCredential\",code=\"Success\"} 1",
        "ssc_operator_iam_calls_total{account=\"210987654321\",operation=\"ListServiceSpecificCredentials\",code=\"Throttled\"} 1",
        "ssc_operator_iam_rate_limiter_wait_seconds_count 2",
        "ssc_operator_resources{reason=\"Available\"} 1",
        "ssc_operator_resources{reason=\"LimitExceeded\"} 0",
        "ssc_operator_leader 1",
        "ssc_operator_build_info{version=\"",
        "# TYPE process_cpu_seconds counter\nprocess_cpu_seconds_total ",
        "\nprocess_resident_memory_bytes ",
        "\nprocess_virtual_memory_bytes ",
        "\nprocess_start_time_seconds ",
        "\nprocess_open_fds ",
        "\nprocess_max_fds ",
        "\nprocess_threads ",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
    m.forget(&r);
    assert!(
        m.encode()
            .contains("ssc_operator_resources{reason=\"Available\"} 0")
    );
    // Resources gone without a cleanup pass are dropped when the caches no longer hold them.
    let other = ObjectRef::new("other").within("team-a");
    m.reconciled(&r, Ok(Reason::Available), Duration::ZERO);
    m.reconciled(&other, Ok(Reason::Available), Duration::ZERO);
    m.retain(&[r.clone()].into());
    assert!(
        m.encode()
            .contains("ssc_operator_resources{reason=\"Available\"} 1")
    );
}

#[test]
fn a_resource_counts_under_the_reason_of_its_last_pass_only() {
    let m = Metrics::new();
    let count = |reason: &str| {
        let needle = format!("ssc_operator_resources{{reason=\"{reason}\"}} ");
        let text = m.encode();
        let line = text.lines().find(|l| l.starts_with(&needle)).unwrap_or("");
        line.trim_start_matches(&needle).to_string()
    };
    // Every reason is exported from the start.
    assert_eq!(count("Available"), "0");
    assert_eq!(count("UserNotFound"), "0");
    let a = ObjectRef::new("a").within("team-a");
    let b = ObjectRef::new("b").within("team-a");
    m.reconciled(&a, Ok(Reason::Available), Duration::ZERO);
    m.reconciled(&a, Ok(Reason::Available), Duration::ZERO);
    m.reconciled(&b, Ok(Reason::Available), Duration::ZERO);
    assert_eq!(count("Available"), "2");
    m.reconciled(&a, Ok(Reason::UserNotFound), Duration::ZERO);
    assert_eq!(
        (count("Available"), count("UserNotFound")),
        ("1".into(), "1".into())
    );
    m.reconciled(&a, Ok(Reason::Deleting), Duration::ZERO);
    m.reconciled(&a, Ok(Reason::Deleting), Duration::ZERO);
    assert_eq!(
        (count("Available"), count("UserNotFound")),
        ("1".into(), "0".into())
    );
    m.forget(&b);
    m.forget(&b);
    m.retain(&[a.clone()].into());
    assert_eq!(count("Available"), "0");
}

#[test]
fn credential_gauges_follow_the_cache_and_name_only_namespace_and_name() {
    use kube::runtime::watcher;
    let m = Metrics::new();
    let (reader, mut writer) = kube::runtime::reflector::store();
    let resource = |name: &str, ready: &str, expires: Option<&str>| {
        let mut value = serde_json::json!({
            "apiVersion": "iam.ssc-operator.dev/v1alpha1",
            "kind": "ServiceSpecificCredential",
            "metadata": {"name": name, "namespace": "team-a"},
            "spec": {"userName": "secret-user-name", "serviceName": "bedrock.amazonaws.com"},
            "status": {
                "credentialId": "ACCASECRETID000000000",
                "nextRotationTime": "2026-12-24T00:00:00Z",
                "conditions": [{"type": "Ready", "status": ready, "reason": "Available",
                                "message": "", "lastTransitionTime": "2026-12-01T00:00:00Z"}]
            }
        });
        if let Some(at) = expires {
            value["status"]["expirationDate"] = at.into();
        }
        serde_json::from_value::<crate::reconcile::CachedCredential>(value).unwrap()
    };
    writer.apply_watcher_event(&watcher::Event::Apply(resource(
        "bot",
        "True",
        Some("2027-01-01T00:00:00Z"),
    )));
    writer.apply_watcher_event(&watcher::Event::Apply(resource("broken", "False", None)));
    m.watch(vec![reader]);
    let text = m.encode();
    for needle in [
        "ssc_operator_credential_ready{namespace=\"team-a\",name=\"bot\"} 1",
        "ssc_operator_credential_ready{namespace=\"team-a\",name=\"broken\"} 0",
        "ssc_operator_credential_expiration_timestamp_seconds{namespace=\"team-a\",name=\"bot\"} 1798761600",
        "ssc_operator_credential_next_rotation_timestamp_seconds{namespace=\"team-a\",name=\"bot\"} 1798070400",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
    assert!(!text.contains("expiration_timestamp_seconds{namespace=\"team-a\",name=\"broken\"}"));
    for secret in ["secret-user-name", "ACCASECRETID"] {
        assert!(!text.contains(secret), "{secret} exported:\n{text}");
    }
    // A replica that stops leading exports no per-credential series.
    m.watch(Vec::new());
    assert!(!m.encode().contains("ssc_operator_credential_ready{"));
}
