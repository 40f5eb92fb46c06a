//! `ws-client URL [MESSAGE...]`: a WebSocket client through sandnet.
//!
//! Connects, then for each MESSAGE sends it and prints the reply on stdout: a
//! text reply as is, a binary one as `binary N: TEXT` (lossy UTF-8), a close
//! from the peer as `close CODE REASON` (and stops). A MESSAGE `bin:TEXT` is
//! sent as binary; `big:N` sends N bytes of `x` as text. At the end it closes
//! with 1000 `bye` and prints the peer's answering close. Exits 1 on a
//! `net-error` (printed to stderr as `ws-client: <error>`, with the policy line
//! to add for a denial), 2 on bad usage.
//!
//! Optional environment (the policy can pass it):
//! - `WS_CLIENT_HEARTBEAT_MS`: heartbeat interval;
//! - `WS_CLIENT_RECONNECT=ATTEMPTS,INITIAL_MS,MAX_MS`: reconnect after a drop;
//! - `WS_CLIENT_SUBPROTOCOL`: a subprotocol to offer (printed as
//!   `subprotocol NAME` when the server picks it);
//! - `WS_CLIENT_HEADER=NAME: VALUE`: an extra handshake header;
//! - `WS_CLIENT_SSE=URL` with `WS_CLIENT_SSE_EVENTS=N`: also open that event
//!   stream and wait on both at once (`wasi:io/poll`), printing `ws: REPLY`
//!   and `sse: TYPE ID DATA` as they come, until every reply and N events arrived.

use sandnet_guest::poll::wait_any;
use sandnet_guest::process::exit;
use sandnet_guest::sse::EventStream;
use sandnet_guest::websocket::{Connection, Message};

const USAGE: &str = "usage: ws-client URL [MESSAGE...]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((url, messages)) = args.split_first() else {
        eprintln!("ws-client: {USAGE}");
        exit(2);
    };
    if let Err(message) = run(url, messages) {
        eprintln!("ws-client: {message}");
        exit(1);
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn number(name: &str, text: &str) -> Result<u32, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{name}: {text:?} is not a whole number"))
}

fn run(url: &str, messages: &[String]) -> Result<(), String> {
    let mut builder = Connection::builder(url);
    if let Some(ms) = env("WS_CLIENT_HEARTBEAT_MS") {
        builder = builder.heartbeat_ms(number("WS_CLIENT_HEARTBEAT_MS", &ms)?);
    }
    if let Some(spec) = env("WS_CLIENT_RECONNECT") {
        let parts: Vec<&str> = spec.split(',').collect();
        let [attempts, initial, max] = parts[..] else {
            return Err("WS_CLIENT_RECONNECT must be ATTEMPTS,INITIAL_MS,MAX_MS".to_owned());
        };
        builder = builder.reconnect(
            number("attempts", attempts)?,
            number("initial", initial)?,
            number("max", max)?,
        );
    }
    if let Some(proto) = env("WS_CLIENT_SUBPROTOCOL") {
        builder = builder.subprotocol(proto);
    }
    if let Some(header) = env("WS_CLIENT_HEADER") {
        let Some((name, value)) = header.split_once(':') else {
            return Err("WS_CLIENT_HEADER must be NAME: VALUE".to_owned());
        };
        builder = builder.header(name.trim(), value.trim());
    }
    let ws = builder.connect().map_err(|e| e.to_string())?;
    if let Some(proto) = ws.subprotocol() {
        println!("subprotocol {proto}");
    }
    if let Some(sse_url) = env("WS_CLIENT_SSE") {
        let events = number(
            "WS_CLIENT_SSE_EVENTS",
            &env("WS_CLIENT_SSE_EVENTS").unwrap_or_default(),
        )?;
        return both(&ws, &sse_url, events, messages);
    }
    for message in messages {
        send(&ws, message)?;
        let reply = ws.receive().map_err(|e| e.to_string())?;
        println!("{}", show(&reply));
        if matches!(reply, Message::Close { .. }) {
            return Ok(());
        }
    }
    ws.close(1000, "bye").map_err(|e| e.to_string())?;
    loop {
        match ws.receive().map_err(|e| e.to_string())? {
            reply @ Message::Close { .. } => {
                println!("{}", show(&reply));
                return Ok(());
            }
            other => println!("{}", show(&other)),
        }
    }
}

fn send(ws: &Connection, message: &str) -> Result<(), String> {
    let sent = if let Some(data) = message.strip_prefix("bin:") {
        ws.send_binary(data.as_bytes())
    } else if let Some(n) = message.strip_prefix("big:") {
        let n = number("big:N", n)? as usize;
        ws.send_text(&"x".repeat(n))
    } else {
        ws.send_text(message)
    };
    sent.map_err(|e| e.to_string())
}

fn show(message: &Message) -> String {
    match message {
        Message::Text(text) => text.clone(),
        Message::Binary(data) => {
            format!("binary {}: {}", data.len(), String::from_utf8_lossy(data))
        }
        Message::Close { code, reason } => format!("close {code} {reason}"),
    }
}

/// Sends every message, then waits on the WebSocket and the event stream
/// together until all replies and `events` events have arrived.
fn both(ws: &Connection, sse_url: &str, events: u32, messages: &[String]) -> Result<(), String> {
    let stream = EventStream::open(sse_url).map_err(|e| e.to_string())?;
    for message in messages {
        send(ws, message)?;
    }
    let (mut replies, mut seen) = (0, 0);
    let ws_ready = ws.subscribe();
    let sse_ready = stream.subscribe();
    while replies < messages.len() || seen < events {
        let mut waiting = Vec::new();
        if replies < messages.len() {
            waiting.push((0, &ws_ready));
        }
        if seen < events {
            waiting.push((1, &sse_ready));
        }
        let pollables: Vec<_> = waiting.iter().map(|(_, p)| *p).collect();
        for index in wait_any(&pollables) {
            match waiting[index].0 {
                0 => {
                    let reply = ws.receive().map_err(|e| e.to_string())?;
                    println!("ws: {}", show(&reply));
                    replies += 1;
                }
                _ => {
                    let event = stream.next_event().map_err(|e| e.to_string())?;
                    println!(
                        "sse: {} {} {}",
                        event.event_type,
                        event.id.as_deref().unwrap_or("-"),
                        event.data.replace('\n', "\\n")
                    );
                    seen += 1;
                }
            }
        }
    }
    drop(ws_ready);
    drop(sse_ready);
    ws.close(1000, "bye").map_err(|e| e.to_string())
}
