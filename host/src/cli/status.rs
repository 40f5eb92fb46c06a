//! `sandnet status`: one line per guest of a running host, read from its
//! Prometheus metrics endpoint (like `docker compose ps`).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::exit::Code;
use crate::metrics::{GuestSummary, ScrapeError, parse, scrape, summarise};

/// How long `status` waits for the metrics endpoint.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Show each guest of a running host: state, restarts, requests, bytes, CPU, memory.
///
/// Reads the Prometheus endpoint of `sandnet up --metrics ADDR`. Exits 69 when
/// nothing serves metrics at ADDR.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The metrics address of the host (HOST:PORT, as given to `sandnet up --metrics`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    metrics: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// How `status` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// Aligned columns with a header.
    Table,
    /// One JSON array of guests (raw numbers: bytes, seconds).
    Json,
}

pub(super) fn exec(args: &Args) -> ExitCode {
    let tokio = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => return super::fail(Code::HostFailure, &err.into()),
    };
    let text = match tokio.block_on(scrape(&args.metrics, TIMEOUT)) {
        Ok(text) => text,
        Err(err) => {
            let code = match err {
                ScrapeError::Address { .. } => Code::Usage,
                _ => Code::Unavailable,
            };
            return super::fail(code, &err.into());
        }
    };
    let guests = match parse(&text) {
        Ok(samples) => summarise(&samples),
        Err(err) => return super::fail(Code::Unavailable, &err.into()),
    };
    let out = match args.format {
        Format::Table => table(&guests),
        Format::Json => match serde_json::to_string_pretty(&guests) {
            Ok(json) => json + "\n",
            Err(err) => return super::fail(Code::HostFailure, &err.into()),
        },
    };
    // A closed stdout (`| head`) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    ExitCode::SUCCESS
}

/// The guests as aligned columns under a header.
fn table(guests: &[GuestSummary]) -> String {
    let header = [
        "GUEST",
        "STATE",
        "RESTARTS",
        "ALLOWED",
        "DENIED",
        "BYTES IN",
        "BYTES OUT",
        "CPU",
        "MEMORY",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 9]> = guests
        .iter()
        .map(|g| {
            [
                g.guest.escape_debug().to_string(),
                g.state.clone(),
                g.restarts.to_string(),
                g.allowed.to_string(),
                g.denied.to_string(),
                bytes(g.bytes_in),
                bytes(g.bytes_out),
                format!("{:.2}s", g.cpu_seconds),
                bytes(g.memory_bytes),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}

/// `n` bytes in binary units: `512 B`, `1.5 KiB`, `12.0 MiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    // Display only: the precision of f64 is plenty for one decimal.
    let mut value = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_in_binary_units() {
        for (n, want) in [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (64 << 20, "64.0 MiB"),
            (u64::MAX, "16384.0 PiB"),
        ] {
            assert_eq!(bytes(n), want, "{n}");
        }
    }

    #[test]
    fn the_table_aligns_columns_under_the_header() {
        let guests = [
            GuestSummary {
                guest: "poller".into(),
                state: "running".into(),
                restarts: 2,
                allowed: 12,
                denied: 1,
                bytes_in: 2048,
                bytes_out: 10,
                cpu_seconds: 0.5,
                memory_bytes: 1 << 20,
                ..GuestSummary::default()
            },
            GuestSummary {
                guest: "echo-server".into(),
                state: "backoff".into(),
                ..GuestSummary::default()
            },
        ];
        assert_eq!(
            table(&guests),
            "\
GUEST         STATE     RESTARTS   ALLOWED   DENIED   BYTES IN   BYTES OUT   CPU     MEMORY
poller        running   2          12        1        2.0 KiB    10 B        0.50s   1.0 MiB
echo-server   backoff   0          0         0        0 B        0 B         0.00s   0 B
"
        );
    }
}
