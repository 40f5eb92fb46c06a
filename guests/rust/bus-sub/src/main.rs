//! `bus-sub PATTERN [COUNT]`: subscribes to the bus pattern PATTERN and prints
//! `TOPIC PAYLOAD` per message (one flushed line each).
//!
//! Prints `subscribed PATTERN` once the subscription is live, so a test or a
//! script knows when to publish. Exits after COUNT messages (default: runs
//! until stopped). A refused subscription prints the denial and the policy
//! line to add, and exits 1; bad usage exits 2.

use std::io::Write;

use sandnet_guest::bus;
use sandnet_guest::process::exit;

const USAGE: &str = "usage: bus-sub PATTERN [COUNT]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (pattern, count) = match args.as_slice() {
        [pattern] => (pattern, None),
        [pattern, count] => match count.parse::<u64>() {
            Ok(n) => (pattern, Some(n)),
            Err(_) => usage(),
        },
        _ => usage(),
    };
    if let Err(err) = run(pattern, count) {
        eprintln!("bus-sub: {err}");
        exit(1);
    }
}

fn usage() -> ! {
    eprintln!("bus-sub: {USAGE}");
    exit(2);
}

fn run(pattern: &str, count: Option<u64>) -> sandnet_guest::Result<()> {
    let subscription = bus::subscribe(pattern)?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "subscribed {pattern}");
    let _ = out.flush();
    let mut seen = 0;
    while count.is_none_or(|n| seen < n) {
        let message = subscription.next()?;
        let _ = writeln!(
            out,
            "{} {}",
            message.topic,
            String::from_utf8_lossy(&message.payload)
        );
        let _ = out.flush();
        seen += 1;
    }
    Ok(())
}
