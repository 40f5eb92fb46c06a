//! Prometheus metrics for hosted guests: one [`Metrics`] registry per host, one
//! [`GuestMeter`] per guest, the `/metrics` exposition server ([`serve`]) and
//! the reading side `sandnet status` uses ([`scrape`], [`parse`], [`summarise`]).
//!
//! Every series carries a `guest` label; the names, types and labels are listed
//! in [`names`] and documented in docs/metrics.md. The network series are fed
//! by the audit log ([`crate::audit::Audit::metered`]), so they count exactly
//! what the guard decided.

mod meter;
pub mod names;
mod parse;
mod scrape;
mod serve;
mod summary;

use std::sync::Arc;

use prometheus::{CounterVec, Encoder, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

pub use meter::{Direction, GuestMeter, GuestState};
pub use parse::{ParseError, Sample, parse};
pub use scrape::{ScrapeError, scrape};
pub use serve::{PATH, serve};
pub use summary::{GuestSummary, summarise};

/// The metrics of one host: a Prometheus registry holding every guest's series.
/// Cloning shares the registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    series: Arc<Series>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The metric families, each labelled by `guest` first.
pub(crate) struct Series {
    pub(crate) state: IntGaugeVec,
    pub(crate) restarts: IntCounterVec,
    pub(crate) cpu_seconds: CounterVec,
    pub(crate) memory_bytes: IntGaugeVec,
    pub(crate) instances: IntGaugeVec,
    pub(crate) net_events: IntCounterVec,
    pub(crate) net_bytes: IntCounterVec,
    pub(crate) limit_hits: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty registry with sandnet's metric families registered.
    // The names, help texts and labels are constants; the unit tests render
    // every family, so a bad one fails there, never at a user's run.
    #[allow(
        clippy::expect_used,
        reason = "constant metric descriptors, checked by the unit tests"
    )]
    pub fn new() -> Self {
        let registry = Registry::new();
        let series = Series::new(&registry).expect("sandnet's metric descriptors are valid");
        Metrics {
            registry,
            series: Arc::new(series),
        }
    }

    /// The meter of guest `name`. Meters for the same name share their series
    /// (a restarted or reloaded guest keeps counting where it left off). The
    /// guest's state, CPU, memory, instance and byte series appear at once,
    /// at zero.
    pub fn guest(&self, name: &str) -> GuestMeter {
        GuestMeter::new(name, Arc::clone(&self.series))
    }

    /// Every series in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(%err, "cannot encode metrics");
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The underlying registry, to add a host application's own series.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl Series {
    fn new(registry: &Registry) -> prometheus::Result<Self> {
        use names::*;
        let series = Series {
            state: IntGaugeVec::new(Opts::new(GUEST_STATE, GUEST_STATE_HELP), &[GUEST, STATE])?,
            restarts: IntCounterVec::new(
                Opts::new(GUEST_RESTARTS, GUEST_RESTARTS_HELP),
                &[GUEST, REASON],
            )?,
            cpu_seconds: CounterVec::new(Opts::new(GUEST_CPU, GUEST_CPU_HELP), &[GUEST])?,
            memory_bytes: IntGaugeVec::new(Opts::new(GUEST_MEMORY, GUEST_MEMORY_HELP), &[GUEST])?,
            instances: IntGaugeVec::new(
                Opts::new(GUEST_INSTANCES, GUEST_INSTANCES_HELP),
                &[GUEST],
            )?,
            net_events: IntCounterVec::new(
                Opts::new(NET_EVENTS, NET_EVENTS_HELP),
                &[GUEST, PROTOCOL, EVENT, DECISION],
            )?,
            net_bytes: IntCounterVec::new(
                Opts::new(NET_BYTES, NET_BYTES_HELP),
                &[GUEST, DIRECTION],
            )?,
            limit_hits: IntCounterVec::new(
                Opts::new(LIMIT_HITS, LIMIT_HITS_HELP),
                &[GUEST, LIMIT],
            )?,
        };
        registry.register(Box::new(series.state.clone()))?;
        registry.register(Box::new(series.restarts.clone()))?;
        registry.register(Box::new(series.cpu_seconds.clone()))?;
        registry.register(Box::new(series.memory_bytes.clone()))?;
        registry.register(Box::new(series.instances.clone()))?;
        registry.register(Box::new(series.net_events.clone()))?;
        registry.register(Box::new(series.net_bytes.clone()))?;
        registry.register(Box::new(series.limit_hits.clone()))?;
        Ok(series)
    }
}

#[cfg(test)]
mod tests;
