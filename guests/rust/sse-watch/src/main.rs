//! `sse-watch URL [COUNT [TYPE...]]`: prints the events of a Server-Sent Events
//! stream through sandnet, one line each: `TYPE ID DATA` (ID `-` when the
//! stream has none; newlines in DATA written `\n`).
//!
//! Stops after COUNT events (0 or absent: runs until the stream ends for
//! good); with TYPEs, only events of those types are delivered. The host
//! reconnects after a drop (honouring `retry`, sending `Last-Event-ID`).
//! Exits 0 after COUNT events, 1 on a `net-error` (printed to stderr as
//! `sse-watch: <error>`, with the policy line to add for a denial), 2 on bad usage.
//!
//! Optional environment (the policy can pass it):
//! - `SSE_WATCH_MAX_RECONNECTS`: consecutive failed reconnections before giving up;
//! - `SSE_WATCH_NO_RECONNECT=1`: never reconnect;
//! - `SSE_WATCH_MAX_REDIRECTS`: redirects to follow (default 0).

use std::io::Write;

use sandnet_guest::process::exit;
use sandnet_guest::sse::EventStream;

const USAGE: &str = "usage: sse-watch URL [COUNT [TYPE...]]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, count, types) = match args.as_slice() {
        [url] => (url, 0, &[][..]),
        [url, count, types @ ..] => match count.parse::<u64>() {
            Ok(n) => (url, n, types),
            Err(_) => usage(),
        },
        _ => usage(),
    };
    if let Err(message) = run(url, count, types) {
        eprintln!("sse-watch: {message}");
        exit(1);
    }
}

fn usage() -> ! {
    eprintln!("sse-watch: {USAGE}");
    exit(2)
}

fn env_u32(name: &str) -> Result<Option<u32>, String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{name}={v:?} is not a whole number")),
        _ => Ok(None),
    }
}

fn run(url: &str, count: u64, types: &[String]) -> Result<(), String> {
    let mut builder = EventStream::builder(url);
    for t in types {
        builder = builder.event_type(t.as_str());
    }
    if let Some(n) = env_u32("SSE_WATCH_MAX_RECONNECTS")? {
        builder = builder.max_reconnects(n);
    }
    if let Some(n) = env_u32("SSE_WATCH_MAX_REDIRECTS")? {
        builder = builder.max_redirects(n);
    }
    if std::env::var("SSE_WATCH_NO_RECONNECT").is_ok_and(|v| v == "1") {
        builder = builder.reconnect(false);
    }
    let stream = builder.open().map_err(|e| e.to_string())?;
    let mut seen = 0;
    while count == 0 || seen < count {
        let event = stream.next_event().map_err(|e| e.to_string())?;
        println!(
            "{} {} {}",
            event.event_type,
            event.id.as_deref().unwrap_or("-"),
            event.data.replace('\n', "\\n")
        );
        let _ = std::io::stdout().flush();
        seen += 1;
    }
    Ok(())
}
