//! W3C trace context across Kafka: the producer's current span goes out as `traceparent`, and the consumer's
//! span is made a child of it, so one trace follows an order through every hop.

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct VecInjector<'a>(&'a mut Vec<(String, String)>);

impl Injector for VecInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_owned(), value));
    }
}

struct SliceExtractor<'a>(&'a [(&'a str, &'a str)]);

impl Extractor for SliceExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| *v)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| *k).collect()
    }
}

/// Adds `traceparent` (and `tracestate`) of the current span to `headers`.
pub fn inject_current(headers: &mut Vec<(String, String)>) {
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut VecInjector(headers)));
}

/// Makes `span` a child of the context in `headers`, if any.
pub fn continue_from<'a>(span: &tracing::Span, headers: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let headers: Vec<(&str, &str)> = headers.into_iter().collect();
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&SliceExtractor(&headers)));
    let _ = span.set_parent(parent);
}

/// The trace id of the current span, as 32 hex digits (all zeros when there is none).
pub fn current_trace_id() -> String {
    use opentelemetry::trace::TraceContextExt;
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .trace_id()
        .to_string()
}

/// The trace id of the current span, when it belongs to a trace.
pub fn current_trace_id_if_any() -> Option<String> {
    Some(current_trace_id()).filter(|id| id.bytes().any(|b| b != b'0'))
}
