//! Logging through `tracing`: JSON (the default, one flat object per line: `timestamp`, `level`,
//! `target`, `message` and every field at the top level, as log pipelines index them) or text.
//! Every line of a reconcile carries the resource's `namespace` and `name` and the pass's
//! `reconcile_id` from the reconcile span.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// `--log-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Json,
    Text,
}

/// Targets held at `info` whatever the level asked for: at `debug` and `trace` the SDK's
/// orchestrator prints the signing identity (endpoint resolution, auth, its runtime components),
/// access key ids included, a session's too.
pub(crate) const QUIETED_TARGETS: &[&str] = &[
    "aws_smithy_runtime::client::orchestrator=info",
    "aws_smithy_runtime::client::identity=info",
    "aws_config=info",
];

/// `filter` with [`QUIETED_TARGETS`] held at `info`.
pub fn quieted(mut filter: EnvFilter) -> EnvFilter {
    for directive in QUIETED_TARGETS {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Installs the global subscriber. `RUST_LOG` wins over `level` when set. Calling it twice is
/// harmless (the second call does nothing).
pub(crate) fn init(format: LogFormat, level: &str) {
    let filter = quieted(
        EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::try_new(level))
            .unwrap_or_else(|_| EnvFilter::new("info")),
    );
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(FlatJson)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
    };
}

/// One JSON object per event with the fields of every enclosing span and of the event itself at
/// the top level (the event's win). tracing-subscriber's JSON nests span fields under `span`, and
/// json-subscriber, which can flatten them, writes each span's name over a field called `name`.
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut object = Map::new();
        for span in ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
        {
            // Span fields, as `JsonFields` formatted them when the span was created or recorded.
            if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                && let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields)
            {
                object.extend(fields);
            }
        }
        event.record(&mut FieldVisitor(&mut object));
        // Last, so that no field of a span or an event (a library's) can stand in for them.
        object.insert(
            "timestamp".into(),
            Value::String(jiff::Timestamp::now().to_string()),
        );
        object.insert("level".into(), Value::String(metadata.level().to_string()));
        object.insert("target".into(), Value::String(metadata.target().into()));
        writeln!(writer, "{}", Value::Object(object))
    }
}

/// Collects an event's fields into a JSON object.
struct FieldVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().into(), Value::String(value.into()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().into(), Value::String(value.to_string()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::Bool(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_flat_and_fields_cannot_forge_the_reserved_keys() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .fmt_fields(JsonFields::new())
                .event_format(FlatJson)
                .with_writer(move || writer.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "reconcile",
                namespace = "team-a",
                name = "web\"-git",
                level = "forged",
                message = "forged"
            );
            let _entered = span.enter();
            tracing::warn!(target: "real", timestamp = "forged", attempt = 3, "the message");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["level"], "WARN", "{text}");
        assert_eq!(line["target"], "real", "{text}");
        assert_eq!(line["message"], "the message", "{text}");
        assert_ne!(line["timestamp"], "forged", "{text}");
        assert_eq!(line["namespace"], "team-a", "{text}");
        assert_eq!(line["name"], "web\"-git", "{text}");
        assert_eq!(line["attempt"], 3, "{text}");
        assert!(line.get("span").is_none() && line.get("fields").is_none());
    }
}
