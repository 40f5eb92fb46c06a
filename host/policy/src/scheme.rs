//! The URL schemes a policy rule or a target can name, with their default ports.

use std::fmt;

/// A network scheme: which protocol a rule grants or a target uses.
///
/// `sse+http`/`sse+https` are Server-Sent Events streams (an HTTP GET); an
/// `http`/`https` rule also covers them, not the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// `http`, port 80.
    Http,
    /// `https`, port 443.
    Https,
    /// `ws` (WebSocket), port 80.
    Ws,
    /// `wss` (WebSocket over TLS), port 443.
    Wss,
    /// `sse+http` (Server-Sent Events over HTTP), port 80.
    SseHttp,
    /// `sse+https` (Server-Sent Events over HTTPS), port 443.
    SseHttps,
    /// `tcp`, a plain TCP connection; no default port.
    Tcp,
    /// `tls`, TCP with host-terminated TLS; no default port.
    Tls,
    /// `tcp-listen`, a TCP listener the guest accepts on; no default port.
    TcpListen,
    /// `ws-listen`, a WebSocket server the guest accepts on; no default port.
    WsListen,
    /// `udp`, datagrams sent to (or received from) a peer; no default port.
    Udp,
    /// `udp-bind`, a local UDP socket address; no default port.
    UdpBind,
    /// `udp-multicast`, joining a multicast group; the port is optional.
    UdpMulticast,
    /// `mqtt`, an MQTT broker connection (publish and subscribe), port 1883.
    Mqtt,
    /// `mqtts`, MQTT over TLS (publish and subscribe), port 8883.
    Mqtts,
    /// `mqtt-publish`, publishing only, over `mqtt` or `mqtts`; port 1883.
    MqttPublish,
    /// `mqtt-subscribe`, subscribing only, over `mqtt` or `mqtts`; port 1883.
    MqttSubscribe,
}

impl Scheme {
    /// Whether this scheme grants a socket that accepts peers (`tcp-listen`,
    /// `ws-listen`, `udp-bind`).
    pub fn listens(self) -> bool {
        matches!(self, Scheme::TcpListen | Scheme::WsListen | Scheme::UdpBind)
    }

    /// Every scheme, in the order error messages list them.
    pub const ALL: [Scheme; 17] = [
        Scheme::Http,
        Scheme::Https,
        Scheme::Ws,
        Scheme::Wss,
        Scheme::SseHttp,
        Scheme::SseHttps,
        Scheme::Tcp,
        Scheme::Tls,
        Scheme::TcpListen,
        Scheme::WsListen,
        Scheme::Udp,
        Scheme::UdpBind,
        Scheme::UdpMulticast,
        Scheme::Mqtt,
        Scheme::Mqtts,
        Scheme::MqttPublish,
        Scheme::MqttSubscribe,
    ];

    /// The scheme as written in a policy or URL, e.g. `"sse+https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
            Scheme::SseHttp => "sse+http",
            Scheme::SseHttps => "sse+https",
            Scheme::Tcp => "tcp",
            Scheme::Tls => "tls",
            Scheme::TcpListen => "tcp-listen",
            Scheme::WsListen => "ws-listen",
            Scheme::Udp => "udp",
            Scheme::UdpBind => "udp-bind",
            Scheme::UdpMulticast => "udp-multicast",
            Scheme::Mqtt => "mqtt",
            Scheme::Mqtts => "mqtts",
            Scheme::MqttPublish => "mqtt-publish",
            Scheme::MqttSubscribe => "mqtt-subscribe",
        }
    }

    /// The port used when a rule or target names none, if the scheme has one.
    pub fn default_port(self) -> Option<u16> {
        match self {
            Scheme::Http | Scheme::Ws | Scheme::SseHttp => Some(80),
            Scheme::Https | Scheme::Wss | Scheme::SseHttps => Some(443),
            Scheme::Mqtt | Scheme::MqttPublish | Scheme::MqttSubscribe => Some(1883),
            Scheme::Mqtts => Some(8883),
            _ => None,
        }
    }

    /// Parses a scheme name, ignoring ASCII case. `None` if unknown.
    pub fn parse(name: &str) -> Option<Scheme> {
        Scheme::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }

    /// The comma-separated list of scheme names, for error messages.
    pub(crate) fn list() -> String {
        Scheme::ALL.map(Scheme::as_str).join(", ")
    }

    /// Whether URLs of this scheme carry a path (the HTTP family and WebSocket clients).
    pub fn has_path(self) -> bool {
        matches!(
            self,
            Scheme::Http
                | Scheme::Https
                | Scheme::Ws
                | Scheme::Wss
                | Scheme::SseHttp
                | Scheme::SseHttps
        )
    }

    /// Whether this is one of the MQTT schemes, whose rules end in a topic
    /// filter (`mqtt://broker/sensors/#`) rather than a path.
    pub fn is_mqtt(self) -> bool {
        matches!(
            self,
            Scheme::Mqtt | Scheme::Mqtts | Scheme::MqttPublish | Scheme::MqttSubscribe
        )
    }

    /// Whether rules of this scheme may carry a method list (`GET,HEAD https://...`).
    pub fn takes_methods(self) -> bool {
        matches!(self, Scheme::Http | Scheme::Https)
    }

    /// Whether connections of this scheme are wrapped in TLS by the host.
    pub fn uses_tls(self) -> bool {
        matches!(
            self,
            Scheme::Https | Scheme::Wss | Scheme::SseHttps | Scheme::Tls
        )
    }

    /// Whether this scheme sends requests in the clear over the network.
    pub(crate) fn is_cleartext_web(self) -> bool {
        matches!(self, Scheme::Http | Scheme::Ws | Scheme::SseHttp)
    }

    /// The scheme the `url` crate parses targets of this scheme as (its
    /// WHATWG "special" scheme), if any.
    pub(crate) fn url_scheme(self) -> Option<&'static str> {
        match self {
            Scheme::Http | Scheme::SseHttp => Some("http"),
            Scheme::Https | Scheme::SseHttps => Some("https"),
            Scheme::Ws => Some("ws"),
            Scheme::Wss => Some("wss"),
            _ => None,
        }
    }

    /// Whether a rule of scheme `self` covers a target of scheme `target`:
    /// the same scheme, `http(s)` covering `sse+http(s)` (an SSE stream is a
    /// GET), or `mqtt-publish`/`mqtt-subscribe` covering both `mqtt` and `mqtts`.
    pub fn covers(self, target: Scheme) -> bool {
        self == target
            || matches!(
                (self, target),
                (Scheme::Http, Scheme::SseHttp)
                    | (Scheme::Https, Scheme::SseHttps)
                    | (
                        Scheme::MqttPublish | Scheme::MqttSubscribe,
                        Scheme::Mqtt | Scheme::Mqtts
                    )
            )
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_defaults() {
        let cases = [
            ("http", Some(Scheme::Http), Some(80)),
            ("HTTPS", Some(Scheme::Https), Some(443)),
            ("ws", Some(Scheme::Ws), Some(80)),
            ("wss", Some(Scheme::Wss), Some(443)),
            ("sse+http", Some(Scheme::SseHttp), Some(80)),
            ("sse+https", Some(Scheme::SseHttps), Some(443)),
            ("tcp", Some(Scheme::Tcp), None),
            ("tls", Some(Scheme::Tls), None),
            ("tcp-listen", Some(Scheme::TcpListen), None),
            ("ws-listen", Some(Scheme::WsListen), None),
            ("udp", Some(Scheme::Udp), None),
            ("udp-bind", Some(Scheme::UdpBind), None),
            ("udp-multicast", Some(Scheme::UdpMulticast), None),
            ("mqtt", Some(Scheme::Mqtt), Some(1883)),
            ("mqtts", Some(Scheme::Mqtts), Some(8883)),
            ("mqtt-publish", Some(Scheme::MqttPublish), Some(1883)),
            ("mqtt-subscribe", Some(Scheme::MqttSubscribe), Some(1883)),
            ("htp", None, None),
            ("", None, None),
        ];
        for (input, scheme, port) in cases {
            let parsed = Scheme::parse(input);
            assert_eq!(parsed, scheme, "{input:?}");
            assert_eq!(parsed.and_then(Scheme::default_port), port, "{input:?}");
            if let Some(s) = parsed {
                assert!(s.as_str().eq_ignore_ascii_case(input), "{input:?}");
            }
        }
    }

    #[test]
    fn coverage() {
        let cases = [
            (Scheme::Https, Scheme::SseHttps, true),
            (Scheme::Http, Scheme::SseHttp, true),
            (Scheme::SseHttps, Scheme::Https, false),
            (Scheme::Https, Scheme::SseHttp, false),
            (Scheme::Http, Scheme::Https, false),
            (Scheme::Https, Scheme::Wss, false),
            (Scheme::Tcp, Scheme::Tls, false),
            (Scheme::Udp, Scheme::Udp, true),
            (Scheme::Mqtt, Scheme::Mqtts, false),
            (Scheme::Mqtts, Scheme::Mqtt, false),
            (Scheme::MqttPublish, Scheme::Mqtts, true),
            (Scheme::MqttSubscribe, Scheme::Mqtt, true),
            (Scheme::Mqtt, Scheme::MqttPublish, false),
        ];
        for (rule, target, want) in cases {
            assert_eq!(rule.covers(target), want, "{rule:?} covers {target:?}");
        }
    }
}
