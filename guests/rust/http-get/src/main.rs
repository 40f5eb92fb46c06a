//! `http-get [--retries N] [--max-redirects N] [--decode] URL...` or
//! `http-get URL [METHOD [BODY]]`: HTTP requests through sandnet.
//!
//! One URL and no option: prints the status code on the first line of stdout,
//! then the response body verbatim. Several URLs or any option: fetches each
//! URL in order in this one run (so the guest's cache can answer a repeat),
//! prints `STATUS BYTES` per URL, then the last body verbatim.
//!
//! Exits 0 when every request got an HTTP response (4xx and 5xx included) and
//! 1 on a `net-error`, printed to stderr as `http-get: <error>` — for a
//! denial, the reason and, on a second line, the policy line that would allow
//! the URL. Exits 2 on bad usage.
//!
//! Optional environment (the policy can pass it):
//! - `HTTP_GET_MAX_REDIRECTS`: redirects to follow (default 0);
//! - `HTTP_GET_TIMEOUT_MS`: total timeout in milliseconds.

use std::io::Write;

use sandnet_guest::http::{Method, Request};
use sandnet_guest::process::exit;

const USAGE: &str = "usage: http-get URL [METHOD [BODY]] | http-get [--retries N] [--max-redirects N] [--decode] URL...";

/// Exit status for a `net-error` (no HTTP response).
const EXIT_NET_ERROR: u8 = 1;
/// Exit status for bad arguments or environment.
const EXIT_USAGE: u8 = 2;

/// What the command line asks for.
struct Plan {
    requests: Vec<Request>,
    /// `STATUS BYTES` per URL (else the single-request `STATUS` line).
    listed: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let plan = match plan(&args) {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("http-get: {message}");
            exit(EXIT_USAGE);
        }
    };
    let mut stdout = std::io::stdout().lock();
    let mut last = Vec::new();
    for request in plan.requests {
        let response = match request.fetch() {
            Ok(response) => response,
            Err(err) => {
                let _ = stdout.flush();
                eprintln!("http-get: {err}");
                exit(EXIT_NET_ERROR);
            }
        };
        let line = if plan.listed {
            writeln!(stdout, "{} {}", response.status(), response.body().len())
        } else {
            writeln!(stdout, "{}", response.status())
        };
        if let Err(err) = line {
            eprintln!("http-get: writing stdout: {err}");
            exit(EXIT_NET_ERROR);
        }
        last = response.into_body();
    }
    let written = stdout.write_all(&last).and_then(|()| stdout.flush());
    if let Err(err) = written {
        eprintln!("http-get: writing stdout: {err}");
        exit(EXIT_NET_ERROR);
    }
}

/// The requests named by the arguments and environment, or a usage message.
fn plan(args: &[String]) -> Result<Plan, String> {
    let mut retries = None;
    let mut max_redirects = env_u32("HTTP_GET_MAX_REDIRECTS")?;
    let mut decode = false;
    let mut rest = args;
    let mut options = false;
    while let Some(flag) = rest.first().filter(|a| a.starts_with("--")) {
        options = true;
        match flag.as_str() {
            "--decode" => {
                decode = true;
                rest = &rest[1..];
            }
            "--retries" | "--max-redirects" => {
                let value = rest
                    .get(1)
                    .ok_or_else(|| format!("{flag} needs a number; {USAGE}"))?;
                let n = value
                    .parse::<u32>()
                    .map_err(|_| format!("{flag} {value:?} is not a whole number"))?;
                if flag == "--retries" {
                    retries = Some(n);
                } else {
                    max_redirects = Some(n);
                }
                rest = &rest[2..];
            }
            "--" => {
                rest = &rest[1..];
                break;
            }
            _ => return Err(format!("unknown option {flag}; {USAGE}")),
        }
    }
    let timeout = env_u32("HTTP_GET_TIMEOUT_MS")?;
    let configure = |mut request: Request| {
        if let Some(n) = max_redirects {
            request = request.max_redirects(n);
        }
        if let Some(ms) = timeout {
            request = request.timeout_ms(ms);
        }
        if let Some(n) = retries {
            request = request.retries(n);
        }
        if decode {
            request = request.decode();
        }
        request
    };
    // `URL METHOD [BODY]`: the second argument is a method, not a URL.
    let single = match rest {
        [url, method] | [url, method, _] if !method.contains("://") => {
            let body = rest.get(2);
            let mut request = Request::new(Method::from(method.as_str()), url.as_str());
            if let Some(body) = body {
                request = request.body(body.as_bytes());
            }
            Some(request)
        }
        _ => None,
    };
    if let Some(request) = single {
        return Ok(Plan {
            requests: vec![configure(request)],
            listed: options,
        });
    }
    if rest.is_empty() {
        return Err(USAGE.to_owned());
    }
    Ok(Plan {
        listed: options || rest.len() > 1,
        requests: rest
            .iter()
            .map(|url| configure(Request::get(url.as_str())))
            .collect(),
    })
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
