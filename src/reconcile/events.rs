//! Publishes `events.k8s.io/v1` Events about resources.
//!
//! Not kube-runtime's `Recorder`: it keeps every Event it sent for six minutes (to patch repeats
//! into a series) and scans all of them on each publish, so a bulk create of 10,000 resources
//! (three Events each) held some 30,000 Events and scanned them 30,000 times. This operator
//! publishes an Event only when something happens (a reason changes, a credential is created,
//! rotated, deleted), so there are no repeats to aggregate.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use kube::runtime::events::EventType;

/// Who publishes: the controller name and this replica.
#[derive(Clone)]
pub(crate) struct Publisher {
    client: kube::Client,
    controller: String,
    instance: String,
}

impl Publisher {
    pub(crate) fn new(client: kube::Client, controller: &str, instance: Option<&str>) -> Self {
        Publisher {
            client,
            controller: controller.to_string(),
            instance: instance.unwrap_or(controller).to_string(),
        }
    }

    /// Creates one Event regarding `regarding`, in its namespace.
    pub(crate) async fn publish(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) -> Result<(), kube::Error> {
        let now = jiff::Timestamp::now();
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(event_name(
                    regarding.name.as_deref().unwrap_or(&self.controller),
                    now.as_nanosecond(),
                )),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            action: Some(action.into()),
            reason: Some(reason.into()),
            note: Some(bounded_note(note)),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            type_: Some(
                match type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .into(),
            ),
            ..Event::default()
        };
        Api::<Event>::namespaced(self.client.clone(), &namespace)
            .create(&PostParams::default(), &event)
            .await
            .map(|_| ())
    }
}

/// `{object}.{nanoseconds in hex}`, within the 253 characters of a DNS subdomain: a long object
/// name is cut (and a cut ending in '-' or '.' trimmed).
fn event_name(object: &str, nanos: i128) -> String {
    let suffix = format!(".{nanos:x}");
    let keep = 253usize.saturating_sub(suffix.len());
    let prefix = object
        .get(..keep.min(object.len()))
        .unwrap_or(object)
        .trim_end_matches(['-', '.']);
    format!("{prefix}{suffix}")
}

/// The API server refuses a note over 1 kB.
fn bounded_note(note: String) -> String {
    super::conditions::cut_to(note, 1024, "...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_stay_valid_for_the_longest_object_names() {
        let long = format!("{}-{}", "a".repeat(240), "b".repeat(12));
        let name = event_name(&long, 0x18f3_a2b4_c5d6_e7f8);
        assert!(name.len() <= 253, "{}", name.len());
        assert!(name.ends_with(".18f3a2b4c5d6e7f8"));
        let name = event_name(&format!("{}-x", "a".repeat(235)), 0x18f3_a2b4_c5d6_e7f8);
        assert!(!name.contains("-."), "{name}");
        assert_eq!(event_name("sofia-git", 255), "sofia-git.ff");
    }

    #[test]
    fn notes_are_cut_to_what_the_api_server_takes() {
        assert_eq!(bounded_note("short".into()), "short");
        let cut = bounded_note("é".repeat(1000));
        assert!(cut.len() <= 1024 && cut.ends_with("..."));
    }
}
