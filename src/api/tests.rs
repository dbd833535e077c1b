use super::*;

fn spec(service: ServiceName) -> ServiceSpecificCredentialSpec {
    ServiceSpecificCredentialSpec {
        user_name: "sofia".into(),
        service_name: service,
        status: DesiredStatus::Active,
        credential_age_days: None,
        secret: SecretSpec::default(),
        rotation: None,
        identity_ref: None,
        deletion_policy: DeletionPolicy::Delete,
        adopt: None,
        rollout_restart: Vec::new(),
    }
}

#[test]
fn service_kinds() {
    assert_eq!(ServiceName::CodeCommit.kind(), CredentialKind::Password);
    assert_eq!(ServiceName::Keyspaces.kind(), CredentialKind::Password);
    for s in [
        ServiceName::Bedrock,
        ServiceName::CloudWatchLogs,
        ServiceName::CloudWatch,
        ServiceName::ClaudePlatform,
    ] {
        assert_eq!(s.kind(), CredentialKind::ApiKey, "{s}");
    }
}

#[test]
fn minimal_manifest_gets_defaults() {
    let obj: ServiceSpecificCredentialSpec = serde_json::from_value(serde_json::json!({
        "userName": "sofia", "serviceName": "codecommit.amazonaws.com"
    }))
    .unwrap();
    assert_eq!(obj.status, DesiredStatus::Active);
    assert_eq!(obj.deletion_policy, DeletionPolicy::Delete);
    assert!(obj.validate().is_ok());
}

#[test]
fn validate_rejects_what_the_schema_would() {
    let mut s = spec(ServiceName::CodeCommit);
    s.credential_age_days = Some(30);
    assert!(s.validate().unwrap_err().0.contains("credentialAgeDays"));
    let mut s = spec(ServiceName::Bedrock);
    s.credential_age_days = Some(0);
    assert!(s.validate().is_err());
    s.credential_age_days = Some(30);
    assert!(s.validate().is_ok());
    let mut s = spec(ServiceName::CodeCommit);
    s.user_name = "a b".into();
    assert!(s.validate().is_err());
    s.user_name = "x".repeat(65);
    assert!(s.validate().is_err());
    let mut s = spec(ServiceName::CodeCommit);
    s.rotation = Some(RotationSpec {
        interval: Some("tomorrow".into()),
        strategy: RotationStrategy::Reset,
        grace_period: None,
        before_expiry: None,
    });
    assert!(s.validate().unwrap_err().0.contains("rotation.interval"));
    let mut s = spec(ServiceName::Bedrock);
    s.credential_age_days = Some(1);
    s.rotation = Some(RotationSpec {
        interval: None,
        strategy: RotationStrategy::Reset,
        grace_period: None,
        before_expiry: Some("24h".into()),
    });
    assert!(
        s.validate()
            .unwrap_err()
            .0
            .contains("shorter than credentialAgeDays")
    );
    s.rotation.as_mut().unwrap().before_expiry = Some("23h".into());
    assert!(s.validate().is_ok());
    let mut s = spec(ServiceName::CodeCommit);
    s.secret.template = Some(SecretTemplate {
        data: [("password".to_string(), "x".to_string())].into(),
        ..Default::default()
    });
    assert!(s.validate().is_err());
    s.secret.template = Some(SecretTemplate {
        data: [("bad key/".to_string(), "x".to_string())].into(),
        ..Default::default()
    });
    assert!(
        s.validate()
            .unwrap_err()
            .0
            .contains("not a valid Secret key")
    );
}

#[test]
fn rotation_durations_have_floors() {
    let cases: [(Option<&str>, Option<&str>, Option<&str>); 4] = [
        (Some("0s"), None, None),
        (Some("59s"), None, None),
        (None, Some("0s"), None),
        (None, Some("500ms"), None),
    ];
    for (interval, grace, before) in cases {
        let mut s = spec(ServiceName::CodeCommit);
        s.rotation = Some(RotationSpec {
            interval: interval.map(Into::into),
            strategy: RotationStrategy::Recreate,
            grace_period: grace.map(Into::into),
            before_expiry: before.map(Into::into),
        });
        let err = s.validate().unwrap_err();
        assert!(err.0.contains("at least"), "{err}");
    }
    let mut s = spec(ServiceName::Bedrock);
    s.rotation = Some(RotationSpec {
        interval: None,
        strategy: RotationStrategy::Reset,
        grace_period: None,
        before_expiry: Some("0s".into()),
    });
    assert!(s.validate().unwrap_err().0.contains("at least"));
    s.rotation.as_mut().unwrap().before_expiry = Some("1m".into());
    assert!(s.validate().is_ok());
}

#[test]
fn durations_parse_like_go() {
    assert_eq!(
        parse_duration("720h").unwrap(),
        std::time::Duration::from_secs(720 * 3600)
    );
    assert_eq!(
        parse_duration("1h30m").unwrap(),
        std::time::Duration::from_secs(5400)
    );
    assert!(parse_duration("-1h").is_err());
    assert!(parse_duration("99999999999999999999h").is_err());
    assert!(parse_duration("999999999h").is_ok());
    assert!(parse_duration("1d").is_err());
}

/// `crds/` must hold exactly what `ssc-operator crd` prints, one file per CRD.
/// `SSC_UPDATE_CRDS=1 cargo test --lib` rewrites them; then run deploy/sync-crds.sh.
#[test]
fn committed_crds_are_current() {
    for (file, generated) in [
        (
            "servicespecificcredentials.iam.ssc-operator.dev.yaml",
            crd_yaml(),
        ),
        (
            "credentialrecords.iam.ssc-operator.dev.yaml",
            crate::record::crd_yaml(),
        ),
        (
            "iamidentities.iam.ssc-operator.dev.yaml",
            crate::identity::api::crd_yaml(),
        ),
    ] {
        let path = format!("{}/crds/{file}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("SSC_UPDATE_CRDS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{path} is stale: SSC_UPDATE_CRDS=1 cargo test --lib, then deploy/sync-crds.sh"
        );
    }
}

#[test]
fn every_field_of_the_crd_explains_itself() {
    // `kubectl explain` shows these: no field without a description, and none with the
    // boilerplate of the Rust type behind it (k8s-openapi's "Time is a wrapper…").
    fn walk(node: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
        let Some(properties) = node["properties"].as_object() else {
            return;
        };
        for (name, field) in properties {
            let path = format!("{path}.{name}");
            let description = field["description"].as_str().unwrap_or_default();
            if description.is_empty() || description.starts_with("Time is a wrapper") {
                missing.push(path.clone());
            }
            walk(field, &path, missing);
            walk(&field["items"], &format!("{path}[]"), missing);
            walk(
                &field["additionalProperties"],
                &format!("{path}{{}}"),
                missing,
            );
        }
    }
    let crd = serde_json::to_value(ServiceSpecificCredential::crd()).unwrap();
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let mut missing = Vec::new();
    walk(&schema["properties"]["spec"], ".spec", &mut missing);
    walk(&schema["properties"]["status"], ".status", &mut missing);
    // The operator's record too (`kubectl explain credentialrecord`).
    let record = serde_json::to_value(crate::record::CredentialRecord::crd()).unwrap();
    let schema = &record["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    walk(&schema["properties"]["spec"], "record.spec", &mut missing);
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:?}"
    );
}

/// Conditions as metav1.Condition declares them: a list-map keyed on `type` (so two field
/// managers applying conditions merge by type instead of replacing the list), `status` one of
/// three values, `reason` a CamelCase word.
#[test]
fn conditions_are_a_list_map_of_metav1_conditions() {
    let crd = serde_json::to_value(ServiceSpecificCredential::crd()).unwrap();
    let conditions = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        ["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], "map", "{conditions}");
    assert_eq!(
        conditions["x-kubernetes-list-map-keys"],
        serde_json::json!(["type"])
    );
    let item = &conditions["items"]["properties"];
    assert_eq!(
        item["status"]["enum"],
        serde_json::json!(["True", "False", "Unknown"])
    );
    assert_eq!(item["reason"]["maxLength"], 1024);
    assert!(item["reason"]["pattern"].is_string());
    assert_eq!(item["message"]["maxLength"], 32768);
    assert_eq!(item["type"]["maxLength"], 316);
}

/// The emulator keeps its own copy of IAM's facts on purpose (an independent check of ours);
/// the two copies must still say the same.
#[test]
fn the_emulator_knows_the_same_services_kinds_and_quota() {
    let ours: Vec<(&str, bool)> = ServiceName::ALL
        .iter()
        .map(|s| (s.as_str(), s.kind() == CredentialKind::Password))
        .collect();
    let emulator: Vec<(&str, bool)> = iam_emulator::catalog::SERVICES
        .iter()
        .map(|(name, kind)| {
            (
                *name,
                *kind == iam_emulator::catalog::CredentialKind::Password,
            )
        })
        .collect();
    assert_eq!(ours, emulator);
    assert_eq!(
        CREDENTIALS_PER_USER_PER_SERVICE,
        iam_emulator::catalog::PER_SERVICE_QUOTA
    );
}

/// `kubectl get ssc` answers what a platform engineer asks first; `-o wide` adds the rest.
#[test]
fn printer_columns_show_secret_expiry_and_message() {
    let crd = serde_json::to_value(ServiceSpecificCredential::crd()).unwrap();
    let columns = crd["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["priority"].as_i64().unwrap_or(0),
            )
        })
        .collect::<Vec<_>>();
    let names = |priority: i64| {
        columns
            .iter()
            .filter(|(_, p)| *p == priority)
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(0),
        [
            "Ready", "Reason", "User", "Service", "Secret", "Expires", "Age"
        ]
    );
    assert_eq!(names(1), ["Credential ID", "Next Rotation", "Message"]);
    // Times ahead are strings: kubectl (and the apiserver's table) print a future `date` as
    // "<invalid>".
    for column in ["Expires", "Next Rotation"] {
        let found = crd["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == column)
            .unwrap()
            .clone();
        assert_eq!(found["type"], "string", "{column}");
    }
}

#[test]
fn crd_carries_the_validation() {
    let yaml = crd_yaml();
    for needle in [
        "shortNames:\n    - ssc",
        "categories:\n    - iam",
        "subresources:\n      status: {}",
        "userName is immutable",
        "serviceName is immutable",
        "credentialAgeDays applies only to API-key services",
        "maxLength: 64",
        "maximum: 36600",
        "- codecommit.amazonaws.com",
        "- aws-external-anthropic.amazonaws.com",
        "default: Active",
        "default: Delete",
        "name: Credential ID",
    ] {
        assert!(yaml.contains(needle), "CRD lacks {needle:?}:\n{yaml}");
    }
}
