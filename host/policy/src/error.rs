//! The crate's error types: rules, targets and policy files. Every message names the offending value and how to fix it.

use std::path::PathBuf;

use crate::scheme::Scheme;

/// Why a rule could not be parsed. Each message names the offending part and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The rule is empty.
    #[error("the rule is empty (expected e.g. \"https://api.example.com/v1/*\")")]
    Empty,
    /// No `scheme://`.
    #[error("missing \"scheme://\" (did you mean \"https://{0}\"?)")]
    MissingScheme(String),
    /// Unknown scheme.
    #[error("unknown scheme \"{0}\" (expected one of {list}, bus, bus-publish, bus-subscribe)", list = Scheme::list())]
    UnknownScheme(String),
    /// A bus rule whose subject pattern is invalid.
    #[error(transparent)]
    Bus(#[from] crate::bus::SubjectError),
    /// An MQTT rule whose topic filter is invalid.
    #[error(transparent)]
    Topic(#[from] crate::mqtt::TopicError),
    /// A bus rule written as a table (`{ rule = "bus://..." }`).
    #[error(
        "a bus rule takes no \"addresses\" or \"peers\"; write it as a plain string like \"bus://telemetry.>\""
    )]
    BusRuleTable,
    /// No host.
    #[error("missing host (write \"*\" to allow any host)")]
    MissingHost,
    /// The host does not parse.
    #[error("invalid host \"{host}\": {reason}")]
    InvalidHost {
        /// The host as written.
        host: String,
        /// What is wrong.
        reason: String,
    },
    /// A `*` anywhere but alone or as the whole first label.
    #[error(
        "invalid wildcard host \"{host}\": \"*\" may only stand alone or as the whole first label, as in \"*.example.com\""
    )]
    BadWildcard {
        /// The host as written.
        host: String,
    },
    /// A CIDR range or address that does not parse or has host bits set.
    #[error("invalid CIDR \"{cidr}\": {reason}")]
    InvalidCidr {
        /// The range as written.
        cidr: String,
        /// What is wrong.
        reason: String,
    },
    /// The port part does not parse.
    #[error("invalid port \"{ports}\": {reason}")]
    InvalidPort {
        /// The ports as written.
        ports: String,
        /// What is wrong.
        reason: String,
    },
    /// The scheme has no default port and the rule names none.
    #[error("{0} rules need a port, e.g. \"{0}://db.internal:5432\" (or \":*\" for any port)")]
    MissingPort(Scheme),
    /// A path on a scheme without paths.
    #[error("{scheme} rules take no path; remove \"{path}\"")]
    PathNotAllowed {
        /// The scheme.
        scheme: Scheme,
        /// The path as written.
        path: String,
    },
    /// The path does not parse.
    #[error("invalid path \"{path}\": {reason}")]
    InvalidPath {
        /// The path as written.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A query or fragment.
    #[error("rules match paths only; remove \"{0}\"")]
    QueryNotAllowed(String),
    /// `user@host`.
    #[error("rules take no user info; remove \"{0}@\"")]
    Userinfo(String),
    /// Methods on a scheme that has none.
    #[error("methods apply only to http and https rules, not {0}")]
    MethodsNotAllowed(Scheme),
    /// A method that is not an HTTP token.
    #[error(
        "invalid method \"{0}\" (expected a comma-separated list like \"GET,HEAD\" before the URL)"
    )]
    InvalidMethod(String),
    /// A method no HTTP server knows, with the likely intended one.
    #[error("unknown method \"{method}\" ({hint})")]
    UnknownMethod {
        /// The method as written.
        method: String,
        /// `did you mean "GET"?` or the list of known methods.
        hint: String,
    },
    /// A known method written in lower or mixed case.
    #[error(
        "method \"{method}\" must be written in upper case, as servers compare methods case-sensitively: write \"{upper}\""
    )]
    MethodCase {
        /// The method as written.
        method: String,
        /// The method in upper case.
        upper: String,
    },
    /// `headers` on a rule whose scheme sends no HTTP headers.
    #[error(
        "headers apply only to rules that send HTTP requests (http, https, ws, wss, sse+http, sse+https), not to a {0} rule"
    )]
    HeadersNeedHttp(Scheme),
    /// `pins` on a rule whose scheme uses no TLS.
    #[error("pins apply only to TLS rules (https, wss, sse+https, tls), not to a {0} rule")]
    PinsNeedTls(Scheme),
    /// A pin that does not parse.
    #[error("{0}")]
    InvalidPin(String),
    /// `headers` or `pins` on a deny rule.
    #[error("deny rules take no {0} (they refuse; nothing is sent)")]
    NotOnDeny(&'static str),
    /// Stray whitespace.
    #[error("unexpected space in \"{0}\" (write methods, one space, then the URL)")]
    Whitespace(String),
    /// `udp-multicast` with a non-multicast host.
    #[error(
        "udp-multicast rules need a multicast group address or range (224.0.0.0/4 or ff00::/8), not \"{0}\""
    )]
    NotMulticast(String),
    /// An entry of `addresses` that does not parse.
    #[error("invalid address \"{address}\" in addresses: {reason}")]
    InvalidAddress {
        /// The entry as written.
        address: String,
        /// What is wrong.
        reason: String,
    },
    /// `addresses` on a rule whose host is already an address.
    #[error("addresses apply only to rules with a host name; \"{0}\" already names addresses")]
    AddressesNeedName(String),
    /// `addresses` on a deny rule.
    #[error("deny rules take no addresses (a deny rule with an IP or CIDR host refuses addresses)")]
    AddressesOnDeny,
    /// `peers` on a rule that does not listen.
    #[error(
        "peers apply only to listening rules (tcp-listen, ws-listen, udp-bind), not to a {0} rule"
    )]
    PeersNeedListen(Scheme),
    /// An entry of `peers` that does not parse.
    #[error("invalid address \"{address}\" in peers: {reason}")]
    InvalidPeer {
        /// The entry as written.
        address: String,
        /// What is wrong.
        reason: String,
    },
}

/// Why a target URL could not be parsed. Each message names the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// No `scheme://`.
    #[error("invalid target \"{target}\": missing \"scheme://\" (e.g. \"https://{target}\")")]
    MissingScheme {
        /// The target as given.
        target: String,
    },
    /// The scheme is not one sandnet knows.
    #[error(
        "invalid target \"{target}\": unknown scheme \"{scheme}\" (expected one of {})",
        Scheme::list()
    )]
    UnknownScheme {
        /// The target as given.
        target: String,
        /// The scheme as given.
        scheme: String,
    },
    /// The URL is malformed.
    #[error("invalid target \"{target}\": {reason}")]
    Invalid {
        /// The target as given.
        target: String,
        /// What is wrong.
        reason: String,
    },
    /// An HTTP method that is not an RFC 9110 token.
    #[error(
        "invalid method {method:?}: a method is an HTTP token of letters, digits and !#$%&'*+-.^_`|~ (e.g. \"GET\")"
    )]
    InvalidMethod {
        /// The method as given.
        method: String,
    },
    /// The scheme has no default port and none was given.
    #[error(
        "invalid target \"{target}\": {scheme} targets need a port (e.g. \"{scheme}://{host}:5432\")"
    )]
    MissingPort {
        /// The target as given.
        target: String,
        /// The scheme.
        scheme: Scheme,
        /// The host as given.
        host: String,
    },
}

/// Why a policy file could not be used. Messages start with `FILE:LINE:` where there is a line.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy file {}: {source}", path.display())]
    Io {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{file}:{line}: invalid TOML: {message}")]
    Syntax {
        /// Policy file name.
        file: String,
        /// Line of the error.
        line: u32,
        /// The TOML parser's message.
        message: String,
    },
    /// A rule does not parse.
    #[error("{file}:{line}: invalid rule \"{rule}\": {error}")]
    InvalidRule {
        /// Policy file name.
        file: String,
        /// Line of the rule.
        line: u32,
        /// The rule as written.
        rule: String,
        /// What is wrong, with a hint.
        error: RuleError,
    },
    /// A key the schema does not have.
    #[error("{file}:{line}: unknown key \"{key}\" in {context} ({hint})")]
    UnknownKey {
        /// Policy file name.
        file: String,
        /// Line of the key.
        line: u32,
        /// The key.
        key: String,
        /// Where it is, e.g. `[guest.feeds]`.
        context: String,
        /// `did you mean "..."?` or the list of valid keys.
        hint: String,
    },
    /// A value of the wrong type or form.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// Policy file name.
        file: String,
        /// Line of the value.
        line: u32,
        /// What is wrong, naming the value and what is expected.
        message: String,
    },
    /// `--guest NAME` names no guest of the file.
    #[error("{file}: no guest named \"{name}\" (guests: {known})")]
    UnknownGuest {
        /// Policy file name.
        file: String,
        /// The name asked for.
        name: String,
        /// The guests the file defines, comma-separated.
        known: String,
    },
    /// No guest named, and the file has several.
    #[error("{file} defines several guests ({known}); choose one with --guest NAME")]
    GuestRequired {
        /// Policy file name.
        file: String,
        /// The guests the file defines, comma-separated.
        known: String,
    },
}
