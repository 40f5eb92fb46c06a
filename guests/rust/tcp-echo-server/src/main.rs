//! `tcp-echo-server tcp-listen://ADDR:PORT [COUNT]`: a TCP echo server in a guest.
//!
//! Binds the listener (the policy must grant it; port 0 picks a free port),
//! prints `listening on IP:PORT`, then serves every connection at once: the
//! listener and all open streams are waited on together with `wasi:io/poll`.
//! Prints `accepted PEER` and `closed PEER`; exits 0 after COUNT connections
//! have closed (default: serve forever), 1 on a `net-error`, 2 on bad usage.

use std::io::Write;

use sandnet_guest::poll::wait_any;
use sandnet_guest::process::exit;
use sandnet_guest::tcp::{TcpListener, TcpStream};

const USAGE: &str = "usage: tcp-echo-server tcp-listen://ADDR:PORT [COUNT]";
/// Bytes echoed per read.
const CHUNK: u32 = 64 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (address, count) = match args.as_slice() {
        [address] => (address, None),
        [address, count] => match count.parse::<u32>() {
            Ok(n) => (address, Some(n)),
            Err(_) => {
                eprintln!("tcp-echo-server: COUNT {count:?} is not a whole number");
                exit(2);
            }
        },
        _ => {
            eprintln!("tcp-echo-server: {USAGE}");
            exit(2);
        }
    };
    if let Err(err) = serve(address, count) {
        eprintln!("tcp-echo-server: {err}");
        exit(1);
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn serve(address: &str, count: Option<u32>) -> sandnet_guest::Result<()> {
    let listener = TcpListener::bind(address)?;
    say(&format!("listening on {}", listener.local_address()));
    let mut open: Vec<(TcpStream, String)> = Vec::new();
    let mut closed = 0;
    while count.is_none_or(|n| closed < n) {
        // Pollables are children of their streams: made fresh each round and
        // dropped before any stream is.
        let ready = {
            let mut pollables = vec![listener.subscribe()];
            pollables.extend(open.iter().map(|(s, _)| s.subscribe()));
            let refs: Vec<_> = pollables.iter().collect();
            wait_any(&refs)
        };
        let mut finished = Vec::new();
        for index in ready {
            if index == 0 {
                match listener.accept() {
                    Ok(stream) => {
                        let peer = stream.peer_address();
                        say(&format!("accepted {peer}"));
                        open.push((stream, peer));
                    }
                    Err(err) => say(&format!("accept failed: {err}")),
                }
                continue;
            }
            let (stream, peer) = &mut open[index - 1];
            let echoed = stream.read(CHUNK).and_then(|data| {
                if data.is_empty() {
                    Ok(false)
                } else {
                    stream.write_all(&data).map(|()| true)
                }
            });
            match echoed {
                Ok(true) => {}
                Ok(false) => finished.push(index - 1),
                Err(err) => {
                    say(&format!("error from {peer}: {err}"));
                    finished.push(index - 1);
                }
            }
        }
        finished.sort_unstable();
        for i in finished.into_iter().rev() {
            let (_, peer) = open.remove(i);
            say(&format!("closed {peer}"));
            closed += 1;
        }
    }
    Ok(())
}
