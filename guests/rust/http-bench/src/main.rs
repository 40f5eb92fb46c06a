//! `http-bench URL N`: fetches URL N times in a loop (one keep-alive connection
//! in the host's pool) and prints `N BYTES MICROS`: requests made, body bytes
//! received and the microseconds the loop took, measured inside the guest.
//! Used by the host's `http_keepalive` benchmark (docs/benchmarks.md).

use std::time::Instant;

use sandnet_guest::http;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(Ok(n))) = (args.first(), args.get(1).map(|n| n.parse::<u32>())) else {
        eprintln!("usage: http-bench URL N");
        sandnet_guest::process::exit(2);
    };
    let started = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..n {
        match http::get(url.as_str()) {
            Ok(response) => bytes += response.body().len(),
            Err(err) => {
                eprintln!("http-bench: {err}");
                sandnet_guest::process::exit(1);
            }
        }
    }
    println!("{n} {bytes} {}", started.elapsed().as_micros());
}
