//! `bus-echo SUBJECT [COUNT]`: answers every request on the bus subject
//! SUBJECT (a pattern) with its own payload.
//!
//! Prints `serving SUBJECT` once subscribed and `answered TOPIC` per reply;
//! exits after COUNT requests (default: runs until stopped). Messages without
//! a reply-to are skipped. A refused subscription or reply prints the denial
//! and the policy line to add, and exits 1; bad usage exits 2.

use std::io::Write;

use sandnet_guest::bus;
use sandnet_guest::process::exit;

const USAGE: &str = "usage: bus-echo SUBJECT [COUNT]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (subject, count) = match args.as_slice() {
        [subject] => (subject, None),
        [subject, count] => match count.parse::<u64>() {
            Ok(n) => (subject, Some(n)),
            Err(_) => usage(),
        },
        _ => usage(),
    };
    if let Err(err) = run(subject, count) {
        eprintln!("bus-echo: {err}");
        exit(1);
    }
}

fn usage() -> ! {
    eprintln!("bus-echo: {USAGE}");
    exit(2);
}

fn run(subject: &str, count: Option<u64>) -> sandnet_guest::Result<()> {
    let requests = bus::subscribe(subject)?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "serving {subject}");
    let _ = out.flush();
    let mut answered = 0;
    while count.is_none_or(|n| answered < n) {
        let message = requests.next()?;
        if bus::reply(&message, &message.payload)? {
            let _ = writeln!(out, "answered {}", message.topic);
            let _ = out.flush();
            answered += 1;
        }
    }
    Ok(())
}
