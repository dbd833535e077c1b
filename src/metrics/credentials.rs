//! Per-credential gauges, read from the controllers' caches at each scrape: whether a resource is
//! Ready, when its API key expires and when its next rotation is due. Labels: namespace and name.

use std::sync::{Arc, Mutex};

use kube::ResourceExt;
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

use crate::reconcile::CachedCredential;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    namespace: String,
    name: String,
}

/// The caches the gauges are read from (none while this replica does not lead).
#[derive(Clone, Debug, Default)]
pub(super) struct CredentialCollector {
    caches: Arc<Mutex<Vec<Store<CachedCredential>>>>,
}

impl CredentialCollector {
    pub(super) fn watch(&self, caches: Vec<Store<CachedCredential>>) {
        *self.caches.lock().expect("caches lock") = caches;
    }
}

/// One resource's gauge values.
struct Sample {
    labels: ResourceLabels,
    ready: bool,
    expiration: Option<f64>,
    next_rotation: Option<f64>,
}

/// Reads one gauge's value from a sample (`None`: no series for it).
type ValueOf = fn(&Sample) -> Option<f64>;

fn sample(resource: &CachedCredential) -> Sample {
    let seconds = |t: Option<jiff::Timestamp>| t.map(|t| t.as_millisecond() as f64 / 1000.0);
    Sample {
        labels: ResourceLabels {
            namespace: resource.namespace().unwrap_or_default(),
            name: resource.name_any(),
        },
        ready: resource.is_ready(),
        expiration: seconds(resource.expiration()),
        next_rotation: seconds(resource.next_rotation()),
    }
}

impl Collector for CredentialCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let caches = self.caches.lock().expect("caches lock").clone();
        let mut samples: Vec<Sample> = caches
            .iter()
            .flat_map(|cache| cache.state())
            .map(|resource| sample(&resource))
            .collect();
        samples.sort_by(|a, b| {
            (&a.labels.namespace, &a.labels.name).cmp(&(&b.labels.namespace, &b.labels.name))
        });
        let gauges: [(&str, &str, ValueOf); 3] = [
            (
                "credential_ready",
                "1 while the resource is Ready (its Secret holds a working credential), else 0",
                |s| Some(if s.ready { 1.0 } else { 0.0 }),
            ),
            (
                "credential_expiration_timestamp_seconds",
                "When IAM stops accepting the API key (keys with credentialAgeDays only)",
                |s| s.expiration,
            ),
            (
                "credential_next_rotation_timestamp_seconds",
                "When the next scheduled rotation is due (resources with a schedule only)",
                |s| s.next_rotation,
            ),
        ];
        for (name, help, value_of) in gauges {
            let type_ = ConstGauge::new(0.0).metric_type();
            let mut family = encoder.encode_descriptor(name, help, None, type_)?;
            for sample in &samples {
                if let Some(value) = value_of(sample) {
                    ConstGauge::new(value).encode(family.encode_family(&sample.labels)?)?;
                }
            }
        }
        Ok(())
    }
}
