//! `tcp-client URL [LINE...]`: one TCP (or TLS) conversation through sandnet.
//!
//! Connects to `URL` (`tcp://host:port` or `tls://host:port`), writes each
//! `LINE` followed by `\n`, closes its write half, then prints every reply line
//! until the server closes the connection (or `TCP_CLIENT_LINES` lines came).
//! Exits 0 on success, 1 on a `net-error` (printed to stderr as
//! `tcp-client: <error>`; for a denial with the policy line that would allow
//! it), 2 on bad usage.
//!
//! Optional environment (the policy can pass it):
//! - `TCP_CLIENT_LINES`: stop after this many reply lines (keeps the write half open);
//! - `TCP_CLIENT_MAX_LINE`: longest reply line in bytes (default 65536);
//! - `TCP_CLIENT_TIMEOUT_MS`: connect and read timeout in milliseconds.

use std::io::Write;

use sandnet_guest::process::exit;
use sandnet_guest::tcp::TcpStream;

const USAGE: &str = "usage: tcp-client tcp://HOST:PORT|tls://HOST:PORT [LINE...]";
const EXIT_NET_ERROR: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((url, lines)) = args.split_first() else {
        eprintln!("tcp-client: {USAGE}");
        exit(EXIT_USAGE);
    };
    let (want, max_line, timeout) = match (
        env_u32("TCP_CLIENT_LINES"),
        env_u32("TCP_CLIENT_MAX_LINE"),
        env_u32("TCP_CLIENT_TIMEOUT_MS"),
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b.unwrap_or(65_536), c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("tcp-client: {e}");
            exit(EXIT_USAGE);
        }
    };
    if let Err(err) = converse(url, lines, want, max_line, timeout) {
        eprintln!("tcp-client: {err}");
        exit(EXIT_NET_ERROR);
    }
}

fn converse(
    url: &str,
    lines: &[String],
    want: Option<u32>,
    max_line: u32,
    timeout: Option<u32>,
) -> sandnet_guest::Result<()> {
    let mut stream = TcpStream::connect_with(url, timeout, timeout)?;
    let mut request = Vec::new();
    for line in lines {
        request.extend_from_slice(line.as_bytes());
        request.push(b'\n');
    }
    if !request.is_empty() {
        stream.write_all(&request)?;
    }
    if want.is_none() {
        stream.shutdown()?;
    }
    let mut stdout = std::io::stdout().lock();
    let mut seen = 0;
    while want.is_none_or(|n| seen < n) {
        let line = stream.read_line(max_line)?;
        if line.is_empty() {
            break;
        }
        seen += 1;
        let _ = stdout.write_all(&line);
        if !line.ends_with(b"\n") {
            let _ = stdout.write_all(b"\n");
        }
        let _ = stdout.flush();
    }
    Ok(())
}

/// `Some(n)` when `name` is set to a u32, `None` when unset or empty.
fn env_u32(name: &str) -> Result<Option<u32>, String> {
    match std::env::var(name) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{name}={v:?} is not a whole number")),
        Err(_) => Ok(None),
    }
}
