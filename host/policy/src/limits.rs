//! Per-guest limits (`[guest.NAME.limits]`): sizes, durations, counts, with defaults.

use std::time::Duration;

/// Resource limits of one guest. Every size or time a guest controls has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `memory`: linear memory cap. Default 256 MiB.
    pub memory_bytes: u64,
    /// `wall_time`: wall-clock deadline for the whole run. Default 300 s.
    pub wall_time: Duration,
    /// `max_connections`: concurrent connections. Default 16.
    pub max_connections: u32,
    /// `max_body_bytes`: largest request or buffered response body. Default 10 MiB.
    pub max_body_bytes: u64,
    /// `connect_timeout`: TCP + TLS connect. Default 5 s.
    pub connect_timeout: Duration,
    /// `first_byte_timeout`: request sent → response head. Default 15 s.
    pub first_byte_timeout: Duration,
    /// `request_timeout`: a whole request/response. Default 30 s.
    pub request_timeout: Duration,
    /// `read_timeout`: idle time between reads of a stream. Default 30 s.
    pub read_timeout: Duration,
    /// `max_redirects`: the most redirects a guest may ask to follow. Default 5.
    pub max_redirects: u32,
    /// `requests_per_second`: token-bucket rate of requests/messages. Default unlimited.
    pub requests_per_second: Option<u32>,
    /// `bytes_out_total`: quota of bytes sent. Default unlimited.
    pub bytes_out_total: Option<u64>,
    /// `bytes_in_total`: quota of bytes received. Default unlimited.
    pub bytes_in_total: Option<u64>,
    /// `max_ws_message_bytes`: largest WebSocket message. Default 1 MiB.
    pub max_ws_message_bytes: u64,
    /// `max_ws_frame_bytes`: largest WebSocket frame. Default 1 MiB.
    pub max_ws_frame_bytes: u64,
    /// `ws_heartbeat`: interval of host-sent WebSocket pings. Default 30 s.
    pub ws_heartbeat: Duration,
    /// `max_sse_event_bytes`: largest Server-Sent Event. Default 1 MiB.
    pub max_sse_event_bytes: u64,
    /// `max_datagram_bytes`: largest UDP datagram. Default 65507.
    pub max_datagram_bytes: u64,
    /// `datagrams_per_second`: token-bucket rate of datagrams sent. Default unlimited.
    pub datagrams_per_second: Option<u32>,
}

const MIB: u64 = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 * MIB,
            wall_time: Duration::from_secs(300),
            max_connections: 16,
            max_body_bytes: 10 * MIB,
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(30),
            max_redirects: 5,
            requests_per_second: None,
            bytes_out_total: None,
            bytes_in_total: None,
            max_ws_message_bytes: MIB,
            max_ws_frame_bytes: MIB,
            ws_heartbeat: Duration::from_secs(30),
            max_sse_event_bytes: MIB,
            max_datagram_bytes: 65507,
            datagrams_per_second: None,
        }
    }
}

/// A limit value as read from TOML.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LimitValue<'a> {
    /// An integer.
    Integer(i64),
    /// A string.
    String(&'a str),
    /// Anything else, by TOML type name.
    Other(&'static str),
}

impl std::fmt::Display for LimitValue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitValue::Integer(i) => write!(f, "{i}"),
            LimitValue::String(s) => write!(f, "\"{s}\""),
            LimitValue::Other(t) => write!(f, "of type {t}"),
        }
    }
}

/// Why [`Limits::set`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SetError {
    /// Not a limit name.
    UnknownKey,
    /// The value is wrong; the message names it and the expected form.
    Invalid(String),
}

enum Kind {
    Size,
    Duration,
    Count,
}

const SIZE_HINT: &str = "expected a positive number of bytes, as an integer or a string like \"10 MiB\" (units B, KB, KiB, MB, MiB, GB, GiB, TB, TiB)";
const DURATION_HINT: &str =
    "expected a positive duration string like \"250ms\", \"5s\", \"1m\" or \"2h\"";
const COUNT_HINT: &str = "expected a positive integer";

impl Limits {
    /// The keys a limits table accepts (`memory_bytes` is also accepted for `memory`).
    pub const KEYS: [&'static str; 18] = [
        "memory",
        "wall_time",
        "max_connections",
        "max_body_bytes",
        "connect_timeout",
        "first_byte_timeout",
        "request_timeout",
        "read_timeout",
        "max_redirects",
        "requests_per_second",
        "bytes_out_total",
        "bytes_in_total",
        "max_ws_message_bytes",
        "max_ws_frame_bytes",
        "ws_heartbeat",
        "max_sse_event_bytes",
        "max_datagram_bytes",
        "datagrams_per_second",
    ];

    /// Sets one limit from its TOML key and value.
    pub(crate) fn set(&mut self, key: &str, value: LimitValue<'_>) -> Result<(), SetError> {
        let kind = match key {
            "memory"
            | "memory_bytes"
            | "max_body_bytes"
            | "bytes_out_total"
            | "bytes_in_total"
            | "max_ws_message_bytes"
            | "max_ws_frame_bytes"
            | "max_sse_event_bytes"
            | "max_datagram_bytes" => Kind::Size,
            "wall_time" | "connect_timeout" | "first_byte_timeout" | "request_timeout"
            | "read_timeout" | "ws_heartbeat" => Kind::Duration,
            "max_connections"
            | "max_redirects"
            | "requests_per_second"
            | "datagrams_per_second" => Kind::Count,
            _ => return Err(SetError::UnknownKey),
        };
        let invalid = |hint: &str| {
            let what = match kind {
                Kind::Size => "size",
                Kind::Duration => "duration",
                Kind::Count => "value",
            };
            SetError::Invalid(format!("invalid {what} {value} for {key} ({hint})"))
        };
        match kind {
            Kind::Size => {
                let bytes = match value {
                    LimitValue::Integer(i) => u64::try_from(i).ok().filter(|&b| b > 0),
                    LimitValue::String(s) => parse_size(s).filter(|&b| b > 0),
                    LimitValue::Other(_) => None,
                }
                .ok_or_else(|| invalid(SIZE_HINT))?;
                match key {
                    "memory" | "memory_bytes" => self.memory_bytes = bytes,
                    "max_body_bytes" => self.max_body_bytes = bytes,
                    "bytes_out_total" => self.bytes_out_total = Some(bytes),
                    "bytes_in_total" => self.bytes_in_total = Some(bytes),
                    "max_ws_message_bytes" => self.max_ws_message_bytes = bytes,
                    "max_ws_frame_bytes" => self.max_ws_frame_bytes = bytes,
                    "max_sse_event_bytes" => self.max_sse_event_bytes = bytes,
                    _ => self.max_datagram_bytes = bytes,
                }
            }
            Kind::Duration => {
                let d = match value {
                    LimitValue::String(s) => parse_duration(s).filter(|d| !d.is_zero()),
                    _ => None,
                }
                .ok_or_else(|| invalid(DURATION_HINT))?;
                match key {
                    "wall_time" => self.wall_time = d,
                    "connect_timeout" => self.connect_timeout = d,
                    "first_byte_timeout" => self.first_byte_timeout = d,
                    "request_timeout" => self.request_timeout = d,
                    "read_timeout" => self.read_timeout = d,
                    _ => self.ws_heartbeat = d,
                }
            }
            Kind::Count => {
                let n = match value {
                    // 0 redirects means "never follow"; every other count must allow something.
                    LimitValue::Integer(i) => u32::try_from(i)
                        .ok()
                        .filter(|&n| n > 0 || key == "max_redirects"),
                    _ => None,
                }
                .ok_or_else(|| invalid(COUNT_HINT))?;
                match key {
                    "max_connections" => self.max_connections = n,
                    "max_redirects" => self.max_redirects = n,
                    "requests_per_second" => self.requests_per_second = Some(n),
                    _ => self.datagrams_per_second = Some(n),
                }
            }
        }
        Ok(())
    }
}

/// Splits `"10 MiB"` into `(10, "MiB")`.
fn number_and_unit(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let n = text[..digits].parse().ok()?;
    Some((n, text[digits..].trim_start()))
}

/// Parses a size: `"1024"`, `"512 B"`, `"512 KiB"`, `"10 MiB"`, `"1 GB"` (units
/// case-insensitive; KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024).
pub fn parse_size(text: &str) -> Option<u64> {
    let (n, unit) = number_and_unit(text)?;
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// Parses a duration: `"250ms"`, `"5s"`, `"1m"`, `"2h"` (a space before the unit is allowed).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (n, unit) = number_and_unit(text)?;
    let secs = |factor: u64| n.checked_mul(factor).map(Duration::from_secs);
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let cases = [
            ("1024", Some(1024)),
            ("512 B", Some(512)),
            ("512 KiB", Some(512 * 1024)),
            ("10 MiB", Some(10 * MIB)),
            ("10MiB", Some(10 * MIB)),
            ("10 mib", Some(10 * MIB)),
            ("1 GB", Some(1_000_000_000)),
            ("2 GiB", Some(2 << 30)),
            ("1 KB", Some(1000)),
            ("1 TiB", Some(1 << 40)),
            ("1.5 MiB", None),
            ("10 MB/s", None),
            ("MiB", None),
            ("-1", None),
            ("99999999999 TiB", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_size(input), want, "{input:?}");
        }
    }

    #[test]
    fn durations() {
        let cases = [
            ("250ms", Some(Duration::from_millis(250))),
            ("5s", Some(Duration::from_secs(5))),
            ("5 s", Some(Duration::from_secs(5))),
            ("1m", Some(Duration::from_secs(60))),
            ("2h", Some(Duration::from_secs(7200))),
            ("5", None),
            ("5S", None),
            ("1d", None),
            ("1.5s", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input), want, "{input:?}");
        }
    }

    #[test]
    fn set_values() {
        let mut limits = Limits::default();
        let ok = [
            ("memory", LimitValue::String("64 MiB")),
            ("memory_bytes", LimitValue::Integer(64 * 1024 * 1024)),
            ("max_body_bytes", LimitValue::String("10 MiB")),
            ("connect_timeout", LimitValue::String("2s")),
            ("requests_per_second", LimitValue::Integer(20)),
            ("bytes_out_total", LimitValue::String("100 MiB")),
            ("wall_time", LimitValue::String("1m")),
            ("max_redirects", LimitValue::Integer(0)),
        ];
        for (key, value) in ok {
            assert_eq!(limits.set(key, value), Ok(()), "{key:?} = {value}");
        }
        assert_eq!(limits.memory_bytes, 64 * MIB);
        assert_eq!(limits.connect_timeout, Duration::from_secs(2));
        assert_eq!(limits.requests_per_second, Some(20));
        assert_eq!(limits.bytes_out_total, Some(100 * MIB));
        assert_eq!(limits.wall_time, Duration::from_secs(60));

        let bad = [
            ("cpu_time", LimitValue::String("10s"), SetError::UnknownKey),
            (
                "connect_timeout",
                LimitValue::Integer(5),
                SetError::Invalid(format!(
                    "invalid duration 5 for connect_timeout ({DURATION_HINT})"
                )),
            ),
            (
                "connect_timeout",
                LimitValue::String("0s"),
                SetError::Invalid(format!(
                    "invalid duration \"0s\" for connect_timeout ({DURATION_HINT})"
                )),
            ),
            (
                "max_body_bytes",
                LimitValue::String("10 MB/s"),
                SetError::Invalid(format!(
                    "invalid size \"10 MB/s\" for max_body_bytes ({SIZE_HINT})"
                )),
            ),
            (
                "max_body_bytes",
                LimitValue::Integer(0),
                SetError::Invalid(format!("invalid size 0 for max_body_bytes ({SIZE_HINT})")),
            ),
            (
                "max_connections",
                LimitValue::String("16"),
                SetError::Invalid(format!(
                    "invalid value \"16\" for max_connections ({COUNT_HINT})"
                )),
            ),
            (
                "max_connections",
                LimitValue::Other("boolean"),
                SetError::Invalid(format!(
                    "invalid value of type boolean for max_connections ({COUNT_HINT})"
                )),
            ),
            (
                "max_connections",
                LimitValue::Integer(0),
                SetError::Invalid(format!(
                    "invalid value 0 for max_connections ({COUNT_HINT})"
                )),
            ),
            (
                "max_redirects",
                LimitValue::Integer(-1),
                SetError::Invalid(format!("invalid value -1 for max_redirects ({COUNT_HINT})")),
            ),
        ];
        for (key, value, want) in bad {
            assert_eq!(limits.set(key, value), Err(want), "{key:?} = {value}");
        }
    }
}
