//! The records this process read or wrote, so that a pass does not GET its resource's record
//! each time. Only the operator writes records, and while this replica leads only this process
//! does: the memo is emptied whenever leadership changes hands (another replica may have written
//! meanwhile), and every write of this process — passes and the sweep — updates or drops its
//! entry.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use super::packed::{Dictionary, Packed};
use crate::record::{CredentialRecord, CredentialRecordSpec};
use crate::uid::UidKey;

#[derive(Default)]
pub(crate) struct RecordMemo(Mutex<HashMap<UidKey, Packed>>);

/// What kept records say alike (see `packed`).
const DICTIONARY: Dictionary = Dictionary(
    br#"{"u":"","v":"","l":{},"s":{"owner":{"namespace":"","name":"","uid":""},"userName":"","serviceName":"bedrock.amazonaws.com","deletionPolicy":"Retain","shard":"","identity":{"name":"","roleArn":"arn:aws:iam::","accountId":""},"holding":{"credentialId":"ACCA","retiringCredentialId":"ACCA","retireAfter":"2026-01-01T00:00:00Z","createRequestedAt":"2026-01-01T00:00:00Z","credentialsBeforeCreate":[]},"unknownCreates":[{"requestedAt":"2026-01-01T00:00:00Z","credentialsBefore":[]}]}}{"u":"","v":"","m":true,"s":{"owner":{"namespace":"","name":"","uid":""},"userName":"","serviceName":"codecommit.amazonaws.com","deletionPolicy":"Delete","holding":{"credentialId":"ACCA"}}}"#,
);

/// What is kept of a record: what a pass reads of it (its spec, and the uid and
/// resourceVersion a write needs), as JSON packed against [`DICTIONARY`]. One allocation of
/// about 120 bytes instead of a `CredentialRecord`'s 900 bytes of mostly empty fields and a
/// dozen small strings, 10,000 times over; a pass unpacks it in microseconds. What every record says alike is left out:
/// the operator's own label, and the owner's uid (the record's name).
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    #[serde(rename = "u")]
    uid: Option<String>,
    #[serde(rename = "v")]
    resource_version: Option<String>,
    /// Labels other than exactly the operator's own.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    labels: Option<BTreeMap<String, String>>,
    /// The labels were exactly the operator's own.
    #[serde(rename = "m", default, skip_serializing_if = "std::ops::Not::not")]
    managed: bool,
    #[serde(rename = "s")]
    spec: CredentialRecordSpec,
}

/// The labels the operator gives every record.
fn managed_labels() -> BTreeMap<String, String> {
    [(
        crate::secret::MANAGED_BY_LABEL.to_string(),
        crate::secret::MANAGED_BY_VALUE.to_string(),
    )]
    .into()
}

impl RecordMemo {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<UidKey, Packed>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The record of this name as this process last read or wrote it.
    pub(crate) fn get(&self, name: &str) -> Option<CredentialRecord> {
        let json = self
            .map()
            .get(&UidKey::of(name))?
            .unpack(&DICTIONARY)
            .ok()?;
        let kept: Kept = serde_json::from_slice(&json).ok()?;
        let mut spec = kept.spec;
        if let Some(owner) = spec.owner.as_mut().filter(|o| o.uid.is_empty()) {
            owner.uid = name.to_string();
        }
        let mut record = CredentialRecord::new(name, spec);
        record.metadata.uid = kept.uid;
        record.metadata.resource_version = kept.resource_version;
        record.metadata.labels = if kept.managed {
            Some(managed_labels())
        } else {
            kept.labels
        };
        Some(record)
    }

    /// `record` as read or written now; managedFields and the rest of its metadata are not
    /// kept.
    pub(crate) fn put(&self, name: &str, record: &CredentialRecord) {
        let managed = record.metadata.labels.as_ref() == Some(&managed_labels());
        let mut spec = record.spec.clone();
        if let Some(owner) = spec.owner.as_mut().filter(|o| o.uid == name) {
            owner.uid = String::new();
        }
        let kept = Kept {
            uid: record.metadata.uid.clone(),
            resource_version: record.metadata.resource_version.clone(),
            labels: record.metadata.labels.clone().filter(|_| !managed),
            managed,
            spec,
        };
        match serde_json::to_vec(&kept) {
            Ok(json) => {
                let packed = Packed::pack(&json, &DICTIONARY);
                self.map().insert(UidKey::of(name), packed);
            }
            // Not kept: the next pass reads the record from the API server.
            Err(_) => self.forget(name),
        }
    }

    /// Not known any more: deleted, or changed by a write whose result was not kept.
    pub(crate) fn forget(&self, name: &str) {
        self.map().remove(&UidKey::of(name));
    }

    /// Forgets everything (leadership changed hands).
    pub(crate) fn clear(&self) {
        self.map().clear();
    }

    /// Keeps the records of these resource uids only.
    pub(crate) fn retain(&self, live: &HashSet<UidKey>) {
        self.map().retain(|name, _| live.contains(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_what_was_put_until_forgotten_or_cleared() {
        let memo = RecordMemo::default();
        let mut record = CredentialRecord::new("uid-1", Default::default());
        record.metadata.resource_version = Some("7".into());
        memo.put("uid-1", &record);
        assert_eq!(memo.get("uid-1"), Some(record.clone()));
        // What is left out comes back: the operator's label, the owner's uid (the name).
        let mut full = record.clone();
        full.metadata.labels = Some(managed_labels());
        full.spec.owner = Some(crate::record::Owner {
            namespace: "team-a".into(),
            name: "git".into(),
            uid: "uid-1".into(),
        });
        memo.put("uid-1", &full);
        assert_eq!(memo.get("uid-1"), Some(full.clone()));
        // A record of another owner's uid, or with other labels, is kept as it is.
        full.spec.owner.as_mut().unwrap().uid = "uid-9".into();
        full.metadata.labels = Some([("other".to_string(), "x".to_string())].into());
        memo.put("uid-1", &full);
        assert_eq!(memo.get("uid-1"), Some(full));
        record.metadata.managed_fields = Some(vec![Default::default()]);
        memo.put("uid-1", &record);
        let kept = memo.get("uid-1").unwrap();
        assert_eq!(
            kept.metadata.managed_fields, None,
            "managedFields are not kept"
        );
        assert_eq!(kept.metadata.resource_version.as_deref(), Some("7"));
        memo.forget("uid-1");
        assert_eq!(memo.get("uid-1"), None);
        memo.put("uid-1", &record);
        memo.put("uid-2", &record);
        memo.retain(&[UidKey::of("uid-2")].into());
        assert_eq!(memo.get("uid-1"), None);
        memo.clear();
        assert_eq!(memo.get("uid-2"), None);
    }

    /// The dictionary says what records say alike: a typical one is kept in well under half of
    /// its JSON (a dictionary left behind by the types would show here).
    #[test]
    fn a_typical_record_is_kept_in_under_half_its_json() {
        let uid = "6f1c2a3b-1111-4222-8333-944455556666";
        let mut record = CredentialRecord::new(
            uid,
            CredentialRecordSpec {
                owner: Some(crate::record::Owner {
                    namespace: "team-a".into(),
                    name: "cred-00017".into(),
                    uid: uid.into(),
                }),
                user_name: "user-00017".into(),
                service_name: "codecommit.amazonaws.com".into(),
                holding: crate::record::Holding {
                    credential_id: Some("ACCAQWERTYUIOPASDFGH1".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        record.metadata.uid = Some("0a1c2a3b-1111-4222-8333-944455556666".into());
        record.metadata.resource_version = Some("123456".into());
        record.metadata.labels = Some(managed_labels());
        let memo = RecordMemo::default();
        memo.put(uid, &record);
        assert_eq!(memo.get(uid), Some(record.clone()));
        let kept = memo.map()[&UidKey::of(uid)].len();
        let json = serde_json::to_vec(&record).unwrap().len();
        assert!(kept * 2 < json, "{kept} of {json}");
    }
}
