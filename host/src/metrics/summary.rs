//! One status line per guest from scraped samples: what `sandnet status` prints.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Sample;
use super::names::*;

/// A guest as `sandnet status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GuestSummary {
    /// The guest's name.
    pub guest: String,
    /// Its current state (`running`, ...), or `unknown` when no state reads 1.
    pub state: String,
    /// Restarts, every reason.
    pub restarts: u64,
    /// Network requests the policy allowed (`request` events, decision `allow`).
    pub allowed: u64,
    /// Everything the policy refused (every event with decision `deny`).
    pub denied: u64,
    /// Allowed, then failed (every event with decision `error`).
    pub errors: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Limit hits, every limit.
    pub limit_hits: u64,
    /// CPU time consumed, in seconds.
    pub cpu_seconds: f64,
    /// Linear memory held now, in bytes.
    pub memory_bytes: u64,
    /// Instances running now.
    pub instances: u64,
}

/// One summary per guest named in `samples`, sorted by name. Samples of other
/// metrics are ignored.
pub fn summarise(samples: &[Sample]) -> Vec<GuestSummary> {
    let mut guests: BTreeMap<&str, GuestSummary> = BTreeMap::new();
    for sample in samples {
        let Some(name) = sample.label(GUEST) else {
            continue;
        };
        let g = guests.entry(name).or_insert_with(|| GuestSummary {
            guest: name.to_owned(),
            state: "unknown".to_owned(),
            ..GuestSummary::default()
        });
        let count = whole(sample.value);
        match sample.name.as_str() {
            GUEST_STATE if sample.value >= 1.0 => {
                if let Some(state) = sample.label(STATE) {
                    state.clone_into(&mut g.state);
                }
            }
            GUEST_RESTARTS => g.restarts += count,
            NET_EVENTS => match sample.label(DECISION) {
                Some("allow") if sample.label(EVENT) == Some("request") => g.allowed += count,
                Some("deny") => g.denied += count,
                Some("error") => g.errors += count,
                _ => {}
            },
            NET_BYTES => match sample.label(DIRECTION) {
                Some("in") => g.bytes_in += count,
                Some("out") => g.bytes_out += count,
                _ => {}
            },
            LIMIT_HITS => g.limit_hits += count,
            GUEST_CPU => g.cpu_seconds += sample.value,
            GUEST_MEMORY => g.memory_bytes += count,
            GUEST_INSTANCES => g.instances += count,
            _ => {}
        }
    }
    guests.into_values().collect()
}

/// A sample value as a count (negative and non-finite values as 0).
fn whole(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        // Saturating float-to-int conversion; counts are whole numbers.
        value.round() as u64
    } else {
        0
    }
}
