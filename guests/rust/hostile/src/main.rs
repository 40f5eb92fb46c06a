//! `hostile COMMAND`: a misbehaving guest for sandnet's runtime-limit tests.
//!
//! - `hostile spin`: loops forever without a single host call (CPU/wall deadline).
//! - `hostile alloc`: allocates and touches memory forever, 1 MiB at a time,
//!   printing nothing (linear-memory cap).
//! - `hostile exit N`: prints `bye` to stdout and exits with status N (0-255).
//! - `hostile env`: prints every environment variable as `NAME=VALUE`, one a line.
//! - `hostile args`: prints every argument, one a line, starting with argv\[0\].
//! - `hostile trap`: prints `about to trap` and executes `unreachable` (a crash).
//! - `hostile sleep MS`: sleeps MS milliseconds (waiting, no CPU), prints `slept`.
//! - `hostile wait-stdin`: prints `ready`, reads stdin until it ends (how a
//!   `sandnet up` host asks a guest to stop), prints `bye` and exits 0.
//! - `hostile bus-reply TOPIC`: answers a bus request it never received, on
//!   TOPIC (say a guessed `_INBOX.…`); prints `replied`, or the error and exits 1.
//!
//! Bad usage prints a message to stderr and exits 2.

use std::hint::black_box;
use std::io::Write;

use sandnet_guest::process::exit;

/// Size of each allocation made by `hostile alloc`.
const ALLOC_CHUNK: usize = 1 << 20;

const USAGE: &str = "usage: hostile spin | alloc | exit N | env | args | trap | sleep MS | wait-stdin | bus-reply TOPIC";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    match rest.as_slice() {
        ["spin"] => spin(),
        ["trap"] => {
            println!("about to trap");
            let _ = std::io::stdout().flush();
            std::process::abort()
        }
        ["alloc"] => alloc(),
        ["exit", code] => match code.parse::<u8>() {
            Ok(code) => {
                println!("bye");
                exit(code)
            }
            Err(_) => usage(&format!("exit code {code:?} is not a number from 0 to 255")),
        },
        ["env"] => print_lines(std::env::vars_os().map(|(name, value)| {
            format!("{}={}", name.to_string_lossy(), value.to_string_lossy())
        })),
        ["args", ..] => print_lines(args.iter().cloned()),
        ["sleep", ms] => match ms.parse::<u64>() {
            Ok(ms) => {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                print_lines(std::iter::once("slept".to_owned()));
            }
            Err(_) => usage(&format!("sleep {ms:?} is not a number of milliseconds")),
        },
        ["wait-stdin"] => wait_stdin(),
        ["bus-reply", topic] => bus_reply(topic),
        _ => usage(USAGE),
    }
}

/// Burns CPU forever; `black_box` keeps the loop from being optimised away.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Grows memory forever, writing every byte so the pages are really used.
/// Ends only when the host stops it (an allocation failure aborts the guest).
fn alloc() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let chunk = vec![0xa5u8; ALLOC_CHUNK];
        hoard.push(black_box(chunk));
    }
}

/// Announces itself, then waits for stdin to end and says goodbye.
fn wait_stdin() {
    print_lines(std::iter::once("ready".to_owned()));
    let mut sink = Vec::new();
    if std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink).is_err() {
        exit(1);
    }
    print_lines(std::iter::once("bye".to_owned()));
}

fn print_lines(lines: impl Iterator<Item = String>) {
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        if writeln!(stdout, "{line}").is_err() {
            exit(1);
        }
    }
    if stdout.flush().is_err() {
        exit(1);
    }
}

fn usage(message: &str) -> ! {
    eprintln!("hostile: {message}");
    exit(2)
}

/// Replies on `topic` as if it were the reply-to of a request received.
fn bus_reply(topic: &str) {
    use sandnet_guest::bindings::sandnet::net::bus;
    match bus::reply(topic, b"forged", &[]) {
        Ok(()) => print_lines(std::iter::once("replied".to_owned())),
        Err(err) => {
            eprintln!("hostile: {}", sandnet_guest::Error::from(err));
            exit(1)
        }
    }
}
