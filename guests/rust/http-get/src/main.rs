//! `http-get URL [METHOD [BODY]]`: one HTTP request through sandnet.
//!
//! Prints the status code on the first line of stdout, then the response body
//! verbatim. Exits 0 on any HTTP response (4xx and 5xx included) and 1 on a
//! `net-error`, printed to stderr as `http-get: <error>` — for a denial, the
//! reason and, on a second line, the policy line that would allow the URL.
//! Exits 2 on bad usage.
//!
//! Optional environment (the policy can pass it):
//! - `HTTP_GET_MAX_REDIRECTS`: redirects to follow (default 0);
//! - `HTTP_GET_TIMEOUT_MS`: total timeout in milliseconds.

use std::io::Write;

use sandnet_guest::http::{Method, Request};
use sandnet_guest::process::exit;

const USAGE: &str = "usage: http-get URL [METHOD [BODY]]";

/// Exit status for a `net-error` (no HTTP response).
const EXIT_NET_ERROR: u8 = 1;
/// Exit status for bad arguments or environment.
const EXIT_USAGE: u8 = 2;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let request = match build_request(&args) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("http-get: {message}");
            exit(EXIT_USAGE);
        }
    };

    let response = match request.fetch() {
        Ok(response) => response,
        Err(err) => {
            eprintln!("http-get: {err}");
            exit(EXIT_NET_ERROR);
        }
    };

    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{}", response.status())
        .and_then(|()| stdout.write_all(response.body()))
        .and_then(|()| stdout.flush());
    if let Err(err) = written {
        eprintln!("http-get: writing stdout: {err}");
        exit(EXIT_NET_ERROR);
    }
}

/// The request named by the arguments and environment, or a usage message.
fn build_request(args: &[String]) -> Result<Request, String> {
    let (url, method, body) = match args {
        [url] => (url, None, None),
        [url, method] => (url, Some(method), None),
        [url, method, body] => (url, Some(method), Some(body)),
        _ => return Err(USAGE.to_owned()),
    };
    let method = method.map_or(Method::Get, |m| Method::from(m.as_str()));
    let mut request = Request::new(method, url.as_str());
    if let Some(body) = body {
        request = request.body(body.as_bytes());
    }
    if let Some(n) = env_u32("HTTP_GET_MAX_REDIRECTS")? {
        request = request.max_redirects(n);
    }
    if let Some(ms) = env_u32("HTTP_GET_TIMEOUT_MS")? {
        request = request.timeout_ms(ms);
    }
    Ok(request)
}

/// `Some(n)` when `name` is set to a u32, `None` when unset or empty.
fn env_u32(name: &str) -> Result<Option<u32>, String> {
    match std::env::var(name) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) => value.parse().map(Some).map_err(|_| {
            format!(
                "{name}={value:?} is not a whole number from 0 to {}",
                u32::MAX
            )
        }),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(value)) => {
            Err(format!("{name}={value:?} is not valid UTF-8"))
        }
    }
}
