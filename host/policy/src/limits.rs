//! Per-guest limits (`[guest.NAME.limits]`): sizes, durations, counts, with defaults.

use std::time::Duration;

/// Resource limits of one guest. Every size or time a guest controls has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `memory`: linear memory cap. Default 256 MiB.
    pub memory_bytes: u64,
    /// `wall_time`: wall-clock deadline for one run (`None`: `"unlimited"`). Default 300 s.
    pub wall_time: Option<Duration>,
    /// `cpu_time`: CPU time one run may consume. Default unlimited.
    pub cpu_time: Option<Duration>,
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
    /// `max_bus_message_bytes`: largest bus message payload. Default 1 MiB.
    pub max_bus_message_bytes: u64,
    /// `max_mqtt_message_bytes`: largest MQTT payload published or received. Default 256 KiB.
    pub max_mqtt_message_bytes: u64,
    /// `bus_messages_per_second`: token-bucket rate of bus messages published. Default unlimited.
    pub bus_messages_per_second: Option<u32>,
}

const MIB: u64 = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 * MIB,
            wall_time: Some(Duration::from_secs(300)),
            cpu_time: None,
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
            max_bus_message_bytes: MIB,
            max_mqtt_message_bytes: 256 * 1024,
            bus_messages_per_second: None,
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

/// One limit of a `[limits]` table: its key, kind, default and meaning in one
/// place. The key list, parsing, the documentation table and the name
/// reported in `limit-exceeded` all come from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `memory` (also `memory_bytes`): linear memory cap.
    Memory,
    /// `wall_time`: wall-clock deadline for one run.
    WallTime,
    /// `cpu_time`: CPU time one run may consume.
    CpuTime,
    /// `max_connections`: concurrent connections.
    MaxConnections,
    /// `max_body_bytes`: largest request or buffered response body.
    MaxBodyBytes,
    /// `connect_timeout`: TCP + TLS connect.
    ConnectTimeout,
    /// `first_byte_timeout`: request sent → response head.
    FirstByteTimeout,
    /// `request_timeout`: a whole request/response.
    RequestTimeout,
    /// `read_timeout`: idle time between reads of a stream.
    ReadTimeout,
    /// `max_redirects`: the most redirects a guest may ask to follow.
    MaxRedirects,
    /// `requests_per_second`: token-bucket rate of requests/messages.
    RequestsPerSecond,
    /// `bytes_out_total`: quota of bytes sent.
    BytesOutTotal,
    /// `bytes_in_total`: quota of bytes received.
    BytesInTotal,
    /// `max_ws_message_bytes`: largest WebSocket message.
    MaxWsMessageBytes,
    /// `max_ws_frame_bytes`: largest WebSocket frame.
    MaxWsFrameBytes,
    /// `ws_heartbeat`: interval of host-sent WebSocket pings.
    WsHeartbeat,
    /// `max_sse_event_bytes`: largest Server-Sent Event.
    MaxSseEventBytes,
    /// `max_datagram_bytes`: largest UDP datagram.
    MaxDatagramBytes,
    /// `datagrams_per_second`: token-bucket rate of datagrams sent.
    DatagramsPerSecond,
    /// `max_bus_message_bytes`: largest bus message payload.
    MaxBusMessageBytes,
    /// `bus_messages_per_second`: token-bucket rate of bus messages published.
    BusMessagesPerSecond,
    /// `max_mqtt_message_bytes`: largest MQTT payload published or received.
    MaxMqttMessageBytes,
}

/// What kind of value a limit takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// Bytes: an integer or a string like `"10 MiB"`.
    Size,
    /// A duration string like `"5s"`.
    Duration,
    /// A positive integer.
    Count,
}

impl Limit {
    /// Every limit, in the order messages and docs list them.
    pub const ALL: [Limit; 22] = [
        Limit::Memory,
        Limit::WallTime,
        Limit::CpuTime,
        Limit::MaxConnections,
        Limit::MaxBodyBytes,
        Limit::ConnectTimeout,
        Limit::FirstByteTimeout,
        Limit::RequestTimeout,
        Limit::ReadTimeout,
        Limit::MaxRedirects,
        Limit::RequestsPerSecond,
        Limit::BytesOutTotal,
        Limit::BytesInTotal,
        Limit::MaxWsMessageBytes,
        Limit::MaxWsFrameBytes,
        Limit::WsHeartbeat,
        Limit::MaxSseEventBytes,
        Limit::MaxDatagramBytes,
        Limit::DatagramsPerSecond,
        Limit::MaxBusMessageBytes,
        Limit::BusMessagesPerSecond,
        Limit::MaxMqttMessageBytes,
    ];

    /// The key in a `[limits]` table, also the name a `limit-exceeded` error reports.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Memory => "memory",
            Limit::WallTime => "wall_time",
            Limit::CpuTime => "cpu_time",
            Limit::MaxConnections => "max_connections",
            Limit::MaxBodyBytes => "max_body_bytes",
            Limit::ConnectTimeout => "connect_timeout",
            Limit::FirstByteTimeout => "first_byte_timeout",
            Limit::RequestTimeout => "request_timeout",
            Limit::ReadTimeout => "read_timeout",
            Limit::MaxRedirects => "max_redirects",
            Limit::RequestsPerSecond => "requests_per_second",
            Limit::BytesOutTotal => "bytes_out_total",
            Limit::BytesInTotal => "bytes_in_total",
            Limit::MaxWsMessageBytes => "max_ws_message_bytes",
            Limit::MaxWsFrameBytes => "max_ws_frame_bytes",
            Limit::WsHeartbeat => "ws_heartbeat",
            Limit::MaxSseEventBytes => "max_sse_event_bytes",
            Limit::MaxDatagramBytes => "max_datagram_bytes",
            Limit::DatagramsPerSecond => "datagrams_per_second",
            Limit::MaxBusMessageBytes => "max_bus_message_bytes",
            Limit::BusMessagesPerSecond => "bus_messages_per_second",
            Limit::MaxMqttMessageBytes => "max_mqtt_message_bytes",
        }
    }

    /// The limit a key names (`memory_bytes` is accepted for `memory`).
    pub fn parse(key: &str) -> Option<Limit> {
        if key == "memory_bytes" {
            return Some(Limit::Memory);
        }
        Limit::ALL.into_iter().find(|l| l.name() == key)
    }

    /// The kind of value it takes.
    pub fn kind(self) -> LimitKind {
        match self {
            Limit::Memory
            | Limit::MaxBodyBytes
            | Limit::BytesOutTotal
            | Limit::BytesInTotal
            | Limit::MaxWsMessageBytes
            | Limit::MaxWsFrameBytes
            | Limit::MaxSseEventBytes
            | Limit::MaxDatagramBytes
            | Limit::MaxBusMessageBytes
            | Limit::MaxMqttMessageBytes => LimitKind::Size,
            Limit::WallTime
            | Limit::CpuTime
            | Limit::ConnectTimeout
            | Limit::FirstByteTimeout
            | Limit::RequestTimeout
            | Limit::ReadTimeout
            | Limit::WsHeartbeat => LimitKind::Duration,
            Limit::MaxConnections
            | Limit::MaxRedirects
            | Limit::RequestsPerSecond
            | Limit::DatagramsPerSecond
            | Limit::BusMessagesPerSecond => LimitKind::Count,
        }
    }

    /// Whether the limit can be switched off with `"unlimited"`.
    pub fn may_be_unlimited(self) -> bool {
        matches!(
            self,
            Limit::WallTime
                | Limit::CpuTime
                | Limit::RequestsPerSecond
                | Limit::BytesOutTotal
                | Limit::BytesInTotal
                | Limit::DatagramsPerSecond
                | Limit::BusMessagesPerSecond
        )
    }

    /// What it limits, one sentence.
    pub fn meaning(self) -> &'static str {
        match self {
            Limit::Memory => "Linear memory cap of the guest.",
            Limit::WallTime => {
                "Wall-clock deadline for one run (a restart starts a new one); \"unlimited\" for long-lived guests."
            }
            Limit::CpuTime => {
                "CPU time one run may consume (counted while the guest's code runs, not while it waits)."
            }
            Limit::MaxConnections => "Concurrent connections.",
            Limit::MaxBodyBytes => "Largest request or buffered response body.",
            Limit::ConnectTimeout => "TCP + TLS connect.",
            Limit::FirstByteTimeout => "From a request sent to its response head.",
            Limit::RequestTimeout => "A whole request and response.",
            Limit::ReadTimeout => "Idle time between reads of a stream.",
            Limit::MaxRedirects => {
                "The most redirects a guest may ask to follow (0: never follow)."
            }
            Limit::RequestsPerSecond => "Token-bucket rate of requests and messages.",
            Limit::BytesOutTotal => "Quota of bytes sent.",
            Limit::BytesInTotal => "Quota of bytes received.",
            Limit::MaxWsMessageBytes => "Largest WebSocket message.",
            Limit::MaxWsFrameBytes => "Largest WebSocket frame.",
            Limit::WsHeartbeat => "Interval of host-sent WebSocket pings.",
            Limit::MaxSseEventBytes => "Largest Server-Sent Event.",
            Limit::MaxDatagramBytes => "Largest UDP datagram.",
            Limit::DatagramsPerSecond => "Token-bucket rate of datagrams sent.",
            Limit::MaxBusMessageBytes => "Largest bus message payload (published or requested).",
            Limit::MaxMqttMessageBytes => {
                "Largest MQTT payload published, or received (a larger one ends the connection)."
            }
            Limit::BusMessagesPerSecond => {
                "Token-bucket rate of bus messages published (requests and replies count)."
            }
        }
    }

    /// The value of this limit in `limits`, as a policy file would write it
    /// (`"256 MiB"`, `"5s"`, `16`, or `unlimited`).
    pub fn value_text(self, limits: &Limits) -> String {
        let size = |b: u64| format_size(b);
        let dur = |d: Duration| format_duration(d);
        let opt = |v: Option<String>| v.unwrap_or_else(|| "unlimited".to_string());
        match self {
            Limit::Memory => size(limits.memory_bytes),
            Limit::WallTime => opt(limits.wall_time.map(dur)),
            Limit::CpuTime => opt(limits.cpu_time.map(dur)),
            Limit::MaxConnections => limits.max_connections.to_string(),
            Limit::MaxBodyBytes => size(limits.max_body_bytes),
            Limit::ConnectTimeout => dur(limits.connect_timeout),
            Limit::FirstByteTimeout => dur(limits.first_byte_timeout),
            Limit::RequestTimeout => dur(limits.request_timeout),
            Limit::ReadTimeout => dur(limits.read_timeout),
            Limit::MaxRedirects => limits.max_redirects.to_string(),
            Limit::RequestsPerSecond => opt(limits.requests_per_second.map(|n| n.to_string())),
            Limit::BytesOutTotal => opt(limits.bytes_out_total.map(size)),
            Limit::BytesInTotal => opt(limits.bytes_in_total.map(size)),
            Limit::MaxWsMessageBytes => size(limits.max_ws_message_bytes),
            Limit::MaxWsFrameBytes => size(limits.max_ws_frame_bytes),
            Limit::WsHeartbeat => dur(limits.ws_heartbeat),
            Limit::MaxSseEventBytes => size(limits.max_sse_event_bytes),
            Limit::MaxDatagramBytes => size(limits.max_datagram_bytes),
            Limit::DatagramsPerSecond => opt(limits.datagrams_per_second.map(|n| n.to_string())),
            Limit::MaxBusMessageBytes => size(limits.max_bus_message_bytes),
            Limit::MaxMqttMessageBytes => size(limits.max_mqtt_message_bytes),
            Limit::BusMessagesPerSecond => {
                opt(limits.bus_messages_per_second.map(|n| n.to_string()))
            }
        }
    }

    /// A markdown table of every limit: key, default and meaning.
    pub fn docs_table() -> String {
        let defaults = Limits::default();
        let mut out = String::from("| key | default | meaning |\n| --- | --- | --- |\n");
        for limit in Limit::ALL {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                limit.name(),
                limit.value_text(&defaults),
                limit.meaning()
            ));
        }
        out
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `"256 MiB"` for whole MiB (likewise GiB, KiB), else the byte count.
pub(crate) fn format_size(bytes: u64) -> String {
    for (unit, factor) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{} {unit}", bytes / factor);
        }
    }
    bytes.to_string()
}

/// `"5s"` for whole seconds, else milliseconds.
fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

const SIZE_HINT: &str = "expected a positive number of bytes, as an integer or a string like \"10 MiB\" (units B, KB, KiB, MB, MiB, GB, GiB, TB, TiB)";
const DURATION_HINT: &str =
    "expected a positive duration string like \"250ms\", \"5s\", \"1m\" or \"2h\"";
const COUNT_HINT: &str = "expected a positive integer";

impl Limits {
    /// The keys a limits table accepts (`memory_bytes` is also accepted for
    /// `memory`): [`Limit::name`] of every [`Limit::ALL`].
    pub const KEYS: [&'static str; 22] = [
        "memory",
        "wall_time",
        "cpu_time",
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
        "max_bus_message_bytes",
        "bus_messages_per_second",
        "max_mqtt_message_bytes",
    ];

    /// Sets one limit from its TOML key and value.
    pub(crate) fn set(&mut self, key: &str, value: LimitValue<'_>) -> Result<(), SetError> {
        let limit = Limit::parse(key).ok_or(SetError::UnknownKey)?;
        let invalid = |hint: &str| {
            let what = match limit.kind() {
                LimitKind::Size => "size",
                LimitKind::Duration => "duration",
                LimitKind::Count => "value",
            };
            let off = if limit.may_be_unlimited() {
                ", or \"unlimited\""
            } else {
                ""
            };
            SetError::Invalid(format!("invalid {what} {value} for {key} ({hint}{off})"))
        };
        let size = || {
            match value {
                LimitValue::Integer(i) => u64::try_from(i).ok().filter(|&b| b > 0),
                LimitValue::String(s) => parse_size(s).filter(|&b| b > 0),
                LimitValue::Other(_) => None,
            }
            .ok_or_else(|| invalid(SIZE_HINT))
        };
        let duration = || {
            match value {
                LimitValue::String(s) => parse_duration(s).filter(|d| !d.is_zero()),
                _ => None,
            }
            .ok_or_else(|| invalid(DURATION_HINT))
        };
        // 0 redirects means "never follow"; every other count must allow something.
        let count = |zero_ok: bool| {
            match value {
                LimitValue::Integer(i) => u32::try_from(i).ok().filter(|&n| n > 0 || zero_ok),
                _ => None,
            }
            .ok_or_else(|| invalid(COUNT_HINT))
        };
        // Limits that may be off take the string "unlimited".
        let unlimited = matches!(value, LimitValue::String("unlimited"));
        match limit {
            Limit::Memory => self.memory_bytes = size()?,
            Limit::WallTime => self.wall_time = if unlimited { None } else { Some(duration()?) },
            Limit::CpuTime => self.cpu_time = if unlimited { None } else { Some(duration()?) },
            Limit::MaxConnections => self.max_connections = count(false)?,
            Limit::MaxBodyBytes => self.max_body_bytes = size()?,
            Limit::ConnectTimeout => self.connect_timeout = duration()?,
            Limit::FirstByteTimeout => self.first_byte_timeout = duration()?,
            Limit::RequestTimeout => self.request_timeout = duration()?,
            Limit::ReadTimeout => self.read_timeout = duration()?,
            Limit::MaxRedirects => self.max_redirects = count(true)?,
            Limit::RequestsPerSecond => {
                self.requests_per_second = if unlimited { None } else { Some(count(false)?) }
            }
            Limit::BytesOutTotal => {
                self.bytes_out_total = if unlimited { None } else { Some(size()?) }
            }
            Limit::BytesInTotal => {
                self.bytes_in_total = if unlimited { None } else { Some(size()?) }
            }
            Limit::MaxWsMessageBytes => self.max_ws_message_bytes = size()?,
            Limit::MaxWsFrameBytes => self.max_ws_frame_bytes = size()?,
            Limit::MaxBusMessageBytes => self.max_bus_message_bytes = size()?,
            Limit::MaxMqttMessageBytes => self.max_mqtt_message_bytes = size()?,
            Limit::BusMessagesPerSecond => {
                self.bus_messages_per_second = if unlimited { None } else { Some(count(false)?) }
            }
            Limit::WsHeartbeat => self.ws_heartbeat = duration()?,
            Limit::MaxSseEventBytes => self.max_sse_event_bytes = size()?,
            Limit::MaxDatagramBytes => self.max_datagram_bytes = size()?,
            Limit::DatagramsPerSecond => {
                self.datagrams_per_second = if unlimited { None } else { Some(count(false)?) }
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
    fn limit_table() {
        assert_eq!(Limit::ALL.map(Limit::name), Limits::KEYS);
        // Setting each limit changes its own value and no other.
        for limit in Limit::ALL {
            let value = match limit.kind() {
                LimitKind::Size => LimitValue::String("7 KiB"),
                LimitKind::Duration => LimitValue::String("7s"),
                LimitKind::Count => LimitValue::Integer(7),
            };
            let mut limits = Limits::default();
            assert_eq!(limits.set(limit.name(), value), Ok(()), "{limit:?}");
            for other in Limit::ALL {
                let changed = other.value_text(&limits) != other.value_text(&Limits::default());
                assert_eq!(changed, other == limit, "{limit:?} set, {other:?} changed");
            }
            let want = match limit.kind() {
                LimitKind::Size => "7 KiB",
                LimitKind::Duration => "7s",
                LimitKind::Count => "7",
            };
            assert_eq!(limit.value_text(&limits), want, "{limit:?}");
            assert_eq!(Limit::parse(limit.name()), Some(limit), "{limit:?}");
        }
        assert_eq!(Limit::parse("memory_bytes"), Some(Limit::Memory));
        assert_eq!(Limit::parse("cpu"), None);
        let table = Limit::docs_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2 + Limit::ALL.len(), "{table}");
        let want = [
            "| key | default | meaning |",
            "| --- | --- | --- |",
            "| `memory` | 256 MiB | Linear memory cap of the guest. |",
            "| `wall_time` | 300s | Wall-clock deadline for one run (a restart starts a new one); \"unlimited\" for long-lived guests. |",
            "| `cpu_time` | unlimited | CPU time one run may consume (counted while the guest's code runs, not while it waits). |",
        ];
        assert_eq!(lines[..5], want, "{table}");
        let tail = [
            "| `max_bus_message_bytes` | 1 MiB | Largest bus message payload (published or requested). |",
            "| `bus_messages_per_second` | unlimited | Token-bucket rate of bus messages published (requests and replies count). |",
            "| `max_mqtt_message_bytes` | 256 KiB | Largest MQTT payload published, or received (a larger one ends the connection). |",
        ];
        assert_eq!(lines[lines.len() - 3..], tail, "{table}");
        let sizes = [
            (1u64, "1"),
            (1024, "1 KiB"),
            (1536, "1536"),
            (10 * MIB, "10 MiB"),
            (1 << 30, "1 GiB"),
        ];
        for (input, want) in sizes {
            assert_eq!(format_size(input), want, "{input:?}");
        }
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
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
            ("cpu_time", LimitValue::String("250ms")),
            ("bytes_in_total", LimitValue::String("unlimited")),
        ];
        for (key, value) in ok {
            assert_eq!(limits.set(key, value), Ok(()), "{key:?} = {value}");
        }
        assert_eq!(limits.memory_bytes, 64 * MIB);
        assert_eq!(limits.connect_timeout, Duration::from_secs(2));
        assert_eq!(limits.requests_per_second, Some(20));
        assert_eq!(limits.bytes_out_total, Some(100 * MIB));
        assert_eq!(limits.wall_time, Some(Duration::from_secs(60)));
        assert_eq!(limits.cpu_time, Some(Duration::from_millis(250)));
        assert_eq!(limits.bytes_in_total, None);
        assert_eq!(
            limits.set("wall_time", LimitValue::String("unlimited")),
            Ok(())
        );
        assert_eq!(limits.wall_time, None);

        let bad = [
            ("cpu", LimitValue::String("10s"), SetError::UnknownKey),
            (
                "memory",
                LimitValue::String("unlimited"),
                SetError::Invalid(format!(
                    "invalid size \"unlimited\" for memory ({SIZE_HINT})"
                )),
            ),
            (
                "cpu_time",
                LimitValue::Integer(5),
                SetError::Invalid(format!(
                    "invalid duration 5 for cpu_time ({DURATION_HINT}, or \"unlimited\")"
                )),
            ),
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
