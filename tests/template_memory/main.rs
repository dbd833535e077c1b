//! Memory a hostile template can make the operator allocate while rendering, measured with a
//! counting allocator (bytes, not wall time). A tenant's template must never take the process
//! near its memory limit (the chart's is 256 MiB).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ssc_operator::SecretValue;
use ssc_operator::{CredentialKind, SecretTemplate, ServiceSpecificCredential};
use ssc_operator::{SecretMaterial, render_secret};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak bytes allocated above the level before `f` ran.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

fn resource(data: &str) -> ServiceSpecificCredential {
    let mut r: ServiceSpecificCredential = serde_json::from_value(serde_json::json!({
        "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
        "metadata": {"name": "bomb", "namespace": "team-a", "uid": "uid-1"},
        "spec": {"userName": "sofia", "serviceName": "codecommit.amazonaws.com"}
    }))
    .unwrap();
    r.spec.secret.template = Some(SecretTemplate {
        data: [("k".to_string(), data.to_string())].into(),
        ..Default::default()
    });
    r
}

const LIMIT: usize = 32 << 20;

#[test]
fn hostile_templates_stay_within_a_bounded_allocation() {
    let doubling: String = std::iter::once("{% set a = password %}".to_string())
        .chain((0..22).map(|_| "{% set a = a ~ a %}".to_string()))
        .chain(std::iter::once("{{ a }}".to_string()))
        .collect();
    let urlencodes = format!("{{{{ password{} }}}}", "|urlencode".repeat(14));
    let bombs = [
        ("string repetition", "{{ 'x' * 300000000 }}".to_string()),
        ("doubling with set", doubling),
        ("nested urlencode", urlencodes),
        (
            "nested replace",
            format!(
                "{{{{ password{} }}}}",
                "|replace('k', 'kkkkkkkkkk')".repeat(7)
            ),
        ),
        (
            "big range",
            "{{ range(100000) | join(password) }}".to_string(),
        ),
        (
            "loop output",
            "{% for i in range(100000) %}{{ password }}{% endfor %}".to_string(),
        ),
    ];
    let value = SecretValue::new("k1zPZM6uVxMQ3oxqgoYlNuJPyRTZ1vREs76zTQE3eJk=");
    let mut failures = Vec::new();
    for (what, template) in bombs {
        let r = resource(&template);
        let mut outcome = None;
        let peak = peak_during(|| {
            outcome = Some(render_secret(
                &r,
                &SecretMaterial {
                    kind: CredentialKind::Password,
                    credential_id: "ACCAQFODXMPL4YFHP7DZE",
                    login: "sofia-at-123456789012",
                    secret: &value,
                    issued_at: None,
                },
            ));
        });
        let outcome = outcome.unwrap();
        println!(
            "{what}: peak {:.1} MiB allocated, {}",
            peak as f64 / f64::from(1 << 20),
            match &outcome {
                Ok(s) => format!("rendered {} bytes", s.data.as_ref().unwrap()["k"].0.len()),
                Err(e) => format!("rejected: {e}"),
            }
        );
        let rendered = outcome
            .as_ref()
            .map_or(0, |s| s.data.as_ref().unwrap()["k"].0.len());
        if peak > LIMIT || rendered > ssc_operator::MAX_RENDERED_VALUE {
            failures.push(what);
        }
    }
    assert!(
        failures.is_empty(),
        "templates that allocated over 32 MiB or rendered past the per-key limit: {failures:?}"
    );
}
