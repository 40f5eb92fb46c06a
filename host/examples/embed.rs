//! Embedding sandnet in your own application: the `Fleet` API that
//! `sandnet up` is built on. Starts every guest of a policy file that names a
//! component, prints what they do for a while, shows their status, then stops
//! them with a grace period.
//!
//! ```text
//! cargo run --release -p sandnet --example embed -- fleet.toml 10
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sandnet::audit::Audit;
use sandnet::fleet::{EventKind, Fleet, FleetConfig, GuestThreads, Guests};
use sandnet::guard::{GuardConfig, SystemResolver, TcpDialer};
use sandnet::metrics::Metrics;
use sandnet::policy::Policy;
use sandnet::{Runtime, RuntimeConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let policy_path = PathBuf::from(args.next().context("usage: embed POLICY [SECONDS]")?);
    let seconds: u64 = args.next().map_or(Ok(5), |s| s.parse())?;

    // One engine for every guest; compiled components are cached on disk.
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: sandnet::runtime::default_cache_dir(),
    })?;
    let metrics = Metrics::new();
    let fleet = Fleet::new(FleetConfig {
        runtime,
        guard: GuardConfig {
            resolver: Arc::new(SystemResolver::default()),
            dialer: Arc::new(TcpDialer),
            audit: Audit::off(),
            ..GuardConfig::default()
        },
        // Guests run on their own threads (as under `sandnet up`), each with
        // its connections; `tokio::runtime::Handle::current().into()` would run
        // them on this application's runtime instead.
        guests: Guests::Threads(Arc::new(GuestThreads::per_core()?)),
        metrics: Some(metrics.clone()),
    });

    // Read the events: guest output lines, starts, stops with reasons, restarts.
    let mut events = fleet.events().context("events are taken once")?;
    let printer = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match &event.kind {
                EventKind::Output { line, .. } => println!("[{}] {line}", event.guest),
                other => println!("[{}] ({other})", event.guest),
            }
        }
    });

    let policy = Policy::from_file(&policy_path)?;
    for change in fleet.apply(&policy, Duration::from_secs(2)).await {
        println!("plan: {change:?}");
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;

    // Applying the file again reloads it: changed scopes apply at once, a
    // changed program restarts only that guest.
    let policy = Policy::from_file(&policy_path)?;
    fleet.apply(&policy, Duration::from_secs(2)).await;

    for status in fleet.status().await {
        println!(
            "status: {}.{} {} restarts={}",
            status.guest,
            status.instance,
            status.state.name(),
            status.restarts
        );
    }
    fleet.shutdown(Duration::from_secs(2)).await;
    drop(fleet);
    printer.await?;
    let series = metrics.render();
    println!("metrics: {} lines", series.lines().count());
    Ok(())
}
