//! Telemetry for Omni services: the `tracing` subscriber (pretty or JSON), OpenTelemetry spans (exported over
//! OTLP/HTTP when an endpoint is configured) and Prometheus metrics.
//!
//! Spans always carry OpenTelemetry contexts, exported or not, so `traceparent` can be propagated across Kafka
//! and a consumer's span continues its producer's trace.

pub mod metrics;

use std::sync::OnceLock;

use omni_config::{LogFormat, TelemetrySettings};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use metrics::Metrics;

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The log filter does not parse.
    #[error("invalid configuration: `telemetry.level` {0}")]
    Filter(String),
    /// The OTLP exporter could not be built.
    #[error("invalid configuration: `telemetry.otlp_endpoint` {0}")]
    Exporter(String),
    /// A metric could not be registered.
    #[error("metric registration failed: {0}")]
    Metric(#[from] prometheus::Error),
}

impl Error {
    /// Whether the settings are at fault (not the machine): the binary exits 64 on it.
    pub fn is_invalid_configuration(&self) -> bool {
        matches!(self, Error::Filter(_) | Error::Exporter(_))
    }
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Keeps the tracer provider; flush it with [`Telemetry::shutdown`] before exit.
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes pending spans to the OTLP endpoint.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            let _ = provider.force_flush();
            let _ = provider.shutdown();
        }
    }
}

/// Installs the process-wide subscriber. `service` names the OTLP resource (`omni` when several services share
/// the process). Calling it again (tests) keeps the first subscriber and returns a no-op handle.
pub fn init(settings: &TelemetrySettings, service: &str) -> Result<Telemetry> {
    let filter = EnvFilter::try_new(&settings.level).map_err(|e| Error::Filter(e.to_string()))?;
    if PROVIDER.get().is_some() {
        return Ok(Telemetry { provider: None });
    }
    let mut builder = SdkTracerProvider::builder().with_resource(
        opentelemetry_sdk::Resource::builder()
            .with_service_name(service.to_owned())
            .build(),
    );
    if !settings.otlp_endpoint.is_empty() {
        use opentelemetry_otlp::WithExportConfig;
        let endpoint = format!("{}/v1/traces", settings.otlp_endpoint.trim_end_matches('/'));
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| Error::Exporter(e.to_string()))?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    if PROVIDER.set(provider.clone()).is_err() {
        return Ok(Telemetry { provider: None });
    }
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    opentelemetry::global::set_tracer_provider(provider.clone());
    // Spans reach OpenTelemetry at info level whatever the log filter says: trace context must propagate
    // across Kafka even when logs are quiet.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("omni"))
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    let fmt = match settings.format {
        // Logs go to stderr: stdout is for what a command prints (endpoints, reports, config).
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .boxed(),
    };
    // A second subscriber (another test in the same process) is not an error.
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init();
    Ok(Telemetry {
        provider: Some(provider),
    })
}

/// Installs a quiet subscriber for tests (warnings only unless `RUST_LOG` says otherwise), with OpenTelemetry
/// contexts so trace propagation can be asserted.
pub fn init_for_tests() {
    let level = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
    let settings = TelemetrySettings {
        format: LogFormat::Pretty,
        level,
        otlp_endpoint: String::new(),
    };
    let _ = init(&settings, "omni-test");
}
