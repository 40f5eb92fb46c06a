//! Reading a policy file: TOML with line-precise errors into one [`GuestPolicy`] per guest.

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::bus::BusRule;
use crate::decision::DenialDetail;
use crate::error::PolicyError;
use crate::error::RuleError;
use crate::guest::DEFAULT_CACHE_BYTES;
use crate::guest::GuestPolicy;
use crate::limits::{LimitValue, Limits, SetError, format_size, parse_size};
use crate::program::{MAX_INSTANCES, Program, Restart};
use crate::rule::Rule;
use crate::secret::{SecretFormat, SecretHeader, SecretSource, secret_header_name};

/// A parsed policy file: one or more guests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    source: String,
    guests: Vec<GuestPolicy>,
}

/// Keys of a `[guest.NAME]` table.
const GUEST_KEYS: [&str; 12] = [
    "allow",
    "deny",
    "env",
    "ca_bundle",
    "limits",
    "denial_detail",
    "cache",
    "limits_wait",
    "component",
    "args",
    "restart",
    "instances",
];
/// Keys at the top of a file: `guest`, or a single guest's keys.
const TOP_KEYS: [&str; 13] = {
    let mut keys = ["guest"; 13];
    let mut i = 0;
    while i < GUEST_KEYS.len() {
        keys[i + 1] = GUEST_KEYS[i];
        i += 1;
    }
    keys
};
const RULE_TABLE_KEYS: [&str; 5] = ["rule", "addresses", "peers", "headers", "pins"];
/// Keys of one secret header's table (`{ env = "VAR", format = "Bearer {}" }`).
const SECRET_KEYS: [&str; 3] = ["env", "file", "format"];

impl Policy {
    /// Reads and parses a policy file; `ca_bundle` paths are resolved relative to its directory.
    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Parser {
            text: &text,
            file: &path.display().to_string(),
            base: path.parent(),
        }
        .policy()
    }

    /// Parses policy text; `source` is the file name shown in messages.
    /// `ca_bundle` paths are kept as written.
    pub fn parse(text: &str, source: &str) -> Result<Policy, PolicyError> {
        Parser {
            text,
            file: source,
            base: None,
        }
        .policy()
    }

    /// The file name given when parsing.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The guests' names, in file order.
    pub fn guest_names(&self) -> Vec<&str> {
        self.guests.iter().map(|g| g.name.as_str()).collect()
    }

    /// The guests, in file order.
    pub fn guests(&self) -> &[GuestPolicy] {
        &self.guests
    }

    /// The named guest; `None` picks the only guest of a single-guest file.
    pub fn guest(&self, name: Option<&str>) -> Result<&GuestPolicy, PolicyError> {
        let known = || self.guest_names().join(", ");
        match name {
            Some(name) => self.guests.iter().find(|g| g.name == name).ok_or_else(|| {
                PolicyError::UnknownGuest {
                    file: self.source.clone(),
                    name: name.to_string(),
                    known: known(),
                }
            }),
            None => match self.guests.as_slice() {
                [only] => Ok(only),
                _ => Err(PolicyError::GuestRequired {
                    file: self.source.clone(),
                    known: known(),
                }),
            },
        }
    }

    /// Warnings about over-broad rules (see [`Lint`](crate::Lint)).
    pub fn lint(&self) -> Vec<crate::Lint> {
        crate::lint::lint(&self.guests)
    }
}

type Entry<'a, 'i> = (&'a Spanned<DeString<'i>>, &'a Spanned<DeValue<'i>>);

/// Table entries in file order.
fn entries<'a, 'i>(table: &'a DeTable<'i>) -> Vec<Entry<'a, 'i>> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

struct Parser<'t> {
    text: &'t str,
    file: &'t str,
    base: Option<&'t Path>,
}

impl Parser<'_> {
    fn line(&self, offset: usize) -> u32 {
        let before = self.text.get(..offset).unwrap_or(self.text);
        u32::try_from(before.matches('\n').count() + 1).unwrap_or(u32::MAX)
    }

    /// `value` as a table, or the error "`what` must be a table..., found TYPE".
    fn table<'v, 'i>(
        &self,
        value: &'v Spanned<DeValue<'i>>,
        what: impl FnOnce() -> String,
    ) -> Result<&'v DeTable<'i>, PolicyError> {
        match value.get_ref().as_table() {
            Some(table) => Ok(table),
            None => self.invalid(
                value.span().start,
                format!("{}, found {}", what(), value.get_ref().type_str()),
            ),
        }
    }

    fn invalid<T>(&self, offset: usize, message: String) -> Result<T, PolicyError> {
        Err(PolicyError::Invalid {
            file: self.file.to_string(),
            line: self.line(offset),
            message,
        })
    }

    fn unknown_key(
        &self,
        key: &Spanned<DeString<'_>>,
        context: &str,
        valid: &[&str],
    ) -> PolicyError {
        let hint = match closest(key.as_ref(), valid) {
            Some(near) => format!("did you mean \"{near}\"?"),
            None => format!("expected one of {}", valid.join(", ")),
        };
        PolicyError::UnknownKey {
            file: self.file.to_string(),
            line: self.line(key.span().start),
            key: key.get_ref().to_string(),
            context: context.to_string(),
            hint,
        }
    }

    fn policy(&self) -> Result<Policy, PolicyError> {
        let root = DeTable::parse(self.text).map_err(|e| PolicyError::Syntax {
            file: self.file.to_string(),
            line: self.line(e.span().map_or(0, |s| s.start)),
            message: e.message().trim().to_string(),
        })?;
        let root = root.get_ref();
        let mut guest_table = None;
        let mut flat = Vec::new();
        for (key, value) in entries(root) {
            match key.get_ref().as_ref() {
                "guest" => guest_table = Some((key, value)),
                k if GUEST_KEYS.contains(&k) => flat.push(key),
                _ => return Err(self.unknown_key(key, "the top level", &TOP_KEYS)),
            }
        }
        let guests = match guest_table {
            None => vec![self.guest("default", root, "the top level", "[limits]")?],
            Some((key, value)) => {
                if let Some(first) = flat.first() {
                    return self.invalid(
                        first.span().start,
                        format!(
                            "top-level \"{}\" cannot be mixed with [guest.NAME] tables; move it into a [guest.NAME] table",
                            first.get_ref()
                        ),
                    );
                }
                let table = self.table(value, || {
                    "\"guest\" must be a table of guests like [guest.NAME]".to_owned()
                })?;
                if table.is_empty() {
                    return self.invalid(
                        key.span().start,
                        "[guest] defines no guests; add a [guest.NAME] table".into(),
                    );
                }
                let mut guests = Vec::new();
                for (name, value) in entries(table) {
                    let name_text = name.get_ref().as_ref();
                    if name_text.is_empty()
                        || !name_text
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    {
                        return self.invalid(
                            name.span().start,
                            format!("invalid guest name \"{name_text}\" (use letters, digits, \"-\" and \"_\")"),
                        );
                    }
                    let table = self.table(value, || {
                        format!("guest \"{name_text}\" must be a table ([guest.{name_text}])")
                    })?;
                    let context = format!("[guest.{name_text}]");
                    let limits_context = format!("[guest.{name_text}.limits]");
                    guests.push(self.guest(name_text, table, &context, &limits_context)?);
                }
                guests
            }
        };
        Ok(Policy {
            source: self.file.to_string(),
            guests,
        })
    }

    fn guest(
        &self,
        name: &str,
        table: &DeTable<'_>,
        context: &str,
        limits_context: &str,
    ) -> Result<GuestPolicy, PolicyError> {
        let mut guest = GuestPolicy::new(name, self.file);
        let mut program = ProgramKeys::default();
        for (key, value) in entries(table) {
            match key.get_ref().as_ref() {
                "component" => {
                    let Some(path) = value.get_ref().as_str().filter(|p| !p.is_empty()) else {
                        return self.invalid(
                            value.span().start,
                            format!("\"component\" must be a file name string like \"relay.wasm\", found {}", value.get_ref().type_str()),
                        );
                    };
                    program.component = Some(self.relative_path(path));
                }
                "args" => {
                    let hint = "\"args\" must be an array of strings like [\"--interval\", \"5s\"]";
                    let args = self.string_list(value, hint)?;
                    program.args = Some((
                        key.span().start,
                        args.iter().map(|a| (*a).to_owned()).collect(),
                    ));
                }
                "restart" => {
                    let restart = value.get_ref().as_str().and_then(Restart::parse);
                    let Some(restart) = restart else {
                        return self.invalid(
                            value.span().start,
                            format!(
                                "invalid restart {} (expected one of \"{}\")",
                                describe(value.get_ref()),
                                Restart::NAMES.join("\", \"")
                            ),
                        );
                    };
                    program.restart = Some((key.span().start, restart));
                }
                "instances" => {
                    let count = match value.get_ref() {
                        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                            .ok()
                            .and_then(|n| u32::try_from(n).ok())
                            .filter(|n| (1..=MAX_INSTANCES).contains(n)),
                        _ => None,
                    };
                    let Some(count) = count else {
                        return self.invalid(
                            value.span().start,
                            format!("invalid instances {} (expected an integer from 1 to {MAX_INSTANCES})", describe(value.get_ref())),
                        );
                    };
                    program.instances = Some((key.span().start, count));
                }
                "allow" => (guest.allow, guest.bus_allow) = self.rules(value, "allow")?,
                "deny" => (guest.deny, guest.bus_deny) = self.rules(value, "deny")?,
                "limits" => guest.limits = self.limits(value, limits_context)?,
                "env" => guest.env = self.env(value)?,
                "denial_detail" => {
                    let Some(text) = value.get_ref().as_str() else {
                        return self.invalid(
                            value.span().start,
                            format!(
                                "\"denial_detail\" must be the string \"full\" or \"minimal\", found {}",
                                value.get_ref().type_str()
                            ),
                        );
                    };
                    let Some(detail) = DenialDetail::parse(text) else {
                        return self.invalid(
                            value.span().start,
                            format!(
                                "invalid denial_detail \"{text}\" (expected \"full\", the default, or \"minimal\" to show guests only that a target is denied)"
                            ),
                        );
                    };
                    guest.denial_detail = detail;
                }
                "cache" => {
                    let cache = match value.get_ref() {
                        DeValue::String(s) if s.as_ref() == "memory" => Some(DEFAULT_CACHE_BYTES),
                        DeValue::String(s) => parse_size(s).filter(|&b| b > 0),
                        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                            .ok()
                            .and_then(|n| u64::try_from(n).ok())
                            .filter(|&b| b > 0),
                        _ => None,
                    };
                    let Some(bytes) = cache else {
                        return self.invalid(
                            value.span().start,
                            format!(
                                "invalid cache {} (expected \"memory\" for a {} in-memory HTTP cache, or its size like \"16 MiB\")",
                                describe(value.get_ref()),
                                format_size(DEFAULT_CACHE_BYTES)
                            ),
                        );
                    };
                    guest.cache = Some(bytes);
                }
                "limits_wait" => {
                    let Some(wait) = value.get_ref().as_bool() else {
                        return self.invalid(
                            value.span().start,
                            format!(
                                "invalid limits_wait {} (expected true, the default: a request waits for requests_per_second and max_connections within its timeout, or false to fail at once)",
                                describe(value.get_ref())
                            ),
                        );
                    };
                    guest.limits_wait = wait;
                }
                "ca_bundle" => {
                    let Some(path) = value.get_ref().as_str() else {
                        return self.invalid(
                            value.span().start,
                            format!("\"ca_bundle\" must be a file name string like \"ca.pem\", found {}", value.get_ref().type_str()),
                        );
                    };
                    guest.ca_bundle = Some(self.relative_path(path));
                    guest.ca_bundle_line = self.line(key.span().start);
                }
                _ => return Err(self.unknown_key(key, context, &GUEST_KEYS)),
            }
        }
        guest.program = self.program(program, context)?;
        Ok(guest)
    }

    /// `path` relative to the policy file's directory (kept as written for parsed text).
    fn relative_path(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        match self.base {
            Some(base) if path.is_relative() => base.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// The program keys of a guest table; `args`, `restart` and `instances`
    /// only make sense with a `component`.
    fn program(&self, keys: ProgramKeys, context: &str) -> Result<Option<Program>, PolicyError> {
        let Some(component) = keys.component else {
            let stray = [
                keys.args.as_ref().map(|(at, _)| (*at, "args")),
                keys.restart.map(|(at, _)| (at, "restart")),
                keys.instances.map(|(at, _)| (at, "instances")),
            ];
            if let Some((at, key)) = stray.into_iter().flatten().min_by_key(|(at, _)| *at) {
                return self.invalid(
                    at,
                    format!("\"{key}\" in {context} needs a component to run; add component = \"guest.wasm\""),
                );
            }
            return Ok(None);
        };
        Ok(Some(Program {
            component,
            args: keys.args.map(|(_, a)| a).unwrap_or_default(),
            restart: keys.restart.map(|(_, r)| r).unwrap_or_default(),
            instances: keys.instances.map_or(1, |(_, n)| n),
        }))
    }

    /// The network rules and the bus rules of an `allow` or `deny` array.
    fn rules(
        &self,
        value: &Spanned<DeValue<'_>>,
        list: &str,
    ) -> Result<(Vec<Rule>, Vec<BusRule>), PolicyError> {
        let Some(items) = value.get_ref().as_array() else {
            return self.invalid(
                value.span().start,
                format!("\"{list}\" must be an array of rules like [\"https://api.example.com/v1/*\"], found {}", value.get_ref().type_str()),
            );
        };
        let mut rules = Vec::new();
        let mut bus = Vec::new();
        for item in items {
            match item.get_ref().as_str().filter(|t| BusRule::is_bus_rule(t)) {
                Some(text) => {
                    let offset = item.span().start;
                    let rule = BusRule::parse(text, self.line(offset)).map_err(|e| {
                        PolicyError::InvalidRule {
                            file: self.file.to_string(),
                            line: self.line(offset),
                            rule: text.to_string(),
                            error: e.into(),
                        }
                    })?;
                    bus.push(rule);
                }
                None => rules.push(self.rule(item, list)?),
            }
        }
        Ok((rules, bus))
    }

    fn rule(&self, item: &Spanned<DeValue<'_>>, list: &str) -> Result<Rule, PolicyError> {
        let rule_error = |text: &str, offset: usize, error: RuleError| PolicyError::InvalidRule {
            file: self.file.to_string(),
            line: self.line(offset),
            rule: text.to_string(),
            error,
        };
        let offset = item.span().start;
        match item.get_ref() {
            DeValue::String(text) => Rule::parse(text, self.line(offset)).map_err(|e| rule_error(text, offset, e)),
            DeValue::Table(table) => {
                let mut rule = None;
                let mut addresses = None;
                let mut peers = None;
                let mut headers = None;
                let mut pins = None;
                for (key, value) in entries(table) {
                    match key.get_ref().as_ref() {
                        "rule" => rule = Some(value),
                        "addresses" => addresses = Some(value),
                        "peers" => peers = Some(value),
                        "headers" => headers = Some((key, value)),
                        "pins" => pins = Some((key, value)),
                        _ => return Err(self.unknown_key(key, "a rule table", &RULE_TABLE_KEYS)),
                    }
                }
                let hint = "a rule table needs a \"rule\" string, e.g. { rule = \"tcp://db.internal:5432\", addresses = [\"10.0.0.0/8\"] }";
                let Some(rule_value) = rule else {
                    return self.invalid(offset, hint.into());
                };
                let Some(text) = rule_value.get_ref().as_str() else {
                    return self.invalid(rule_value.span().start, hint.into());
                };
                let rule_offset = rule_value.span().start;
                if BusRule::is_bus_rule(text) {
                    return Err(rule_error(text, rule_offset, RuleError::BusRuleTable));
                }
                let mut parsed = Rule::parse(text, self.line(rule_offset)).map_err(|e| rule_error(text, rule_offset, e))?;
                if let Some(addresses) = addresses {
                    if list == "deny" {
                        return Err(rule_error(text, addresses.span().start, RuleError::AddressesOnDeny));
                    }
                    let list_hint = "\"addresses\" must be an array of IP addresses or CIDR ranges like [\"10.0.0.0/8\", \"fd00::/8\"]";
                    let strings = self.string_list(addresses, list_hint)?;
                    parsed = parsed
                        .with_addresses(&strings)
                        .map_err(|e| rule_error(text, addresses.span().start, e))?;
                }
                if let Some(peers) = peers {
                    let list_hint = "\"peers\" must be an array of IP addresses or CIDR ranges like [\"127.0.0.1\", \"10.0.0.0/8\"]";
                    let strings = self.string_list(peers, list_hint)?;
                    parsed = parsed
                        .with_peers(&strings)
                        .map_err(|e| rule_error(text, peers.span().start, e))?;
                }
                for (key, what) in [(headers, "headers"), (pins, "pins")] {
                    if let Some((key, _)) = key
                        && list == "deny"
                    {
                        return Err(rule_error(text, key.span().start, RuleError::NotOnDeny(what)));
                    }
                }
                if let Some((_, headers)) = headers {
                    let secrets = self.secret_headers(headers)?;
                    parsed = parsed
                        .with_secrets(secrets)
                        .map_err(|e| rule_error(text, headers.span().start, e))?;
                }
                if let Some((_, pins)) = pins {
                    let list_hint = "\"pins\" must be an array of pins like [\"sha256/AAAA...=\"] (`sandnet pin HOST:PORT` prints them)";
                    let strings = self.string_list(pins, list_hint)?;
                    if strings.is_empty() {
                        return self.invalid(pins.span().start, format!("{list_hint}, found an empty array"));
                    }
                    parsed = parsed
                        .with_pins(&strings)
                        .map_err(|e| rule_error(text, pins.span().start, e))?;
                }
                Ok(parsed)
            }
            other => self.invalid(
                offset,
                format!(
                    "each element of \"{list}\" must be a rule string or a {{ rule = \"...\", addresses = [...] }} table, found {}",
                    other.type_str()
                ),
            ),
        }
    }

    /// The secret headers of a rule table: `{ NAME = { env = "VAR" | file = "path", format = "..." } }`.
    fn secret_headers(
        &self,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Vec<SecretHeader>, PolicyError> {
        let example =
            "headers = { authorization = { env = \"API_TOKEN\", format = \"Bearer {}\" } }";
        let table = self.table(value, || {
            format!("\"headers\" must be a table like {example}")
        })?;
        let mut headers: Vec<SecretHeader> = Vec::new();
        for (key, value) in entries(table) {
            let at = key.span().start;
            let name = secret_header_name(key.get_ref()).or_else(|m| self.invalid(at, m))?;
            if headers.iter().any(|h| h.name == name) {
                return self.invalid(at, format!("header \"{name}\" is listed twice in headers"));
            }
            let spec = self.table(value, || {
                format!("header \"{name}\" must be a table naming where its secret comes from, like {example}")
            })?;
            let mut source = None;
            let mut format = SecretFormat::default();
            for (k, v) in entries(spec) {
                let text = v.get_ref().as_str();
                let kind = k.get_ref().as_ref();
                match (kind, text) {
                    ("env" | "file", Some(text)) if !text.is_empty() => {
                        if source.is_some() {
                            return self.invalid(
                                k.span().start,
                                format!(
                                    "header \"{name}\" names two sources; keep either env or file"
                                ),
                            );
                        }
                        source = Some(if kind == "env" {
                            SecretSource::Env(text.to_owned())
                        } else {
                            SecretSource::File(self.relative_path(text))
                        });
                    }
                    ("format", Some(text)) => {
                        format = SecretFormat::parse(text)
                            .or_else(|m| self.invalid(v.span().start, m))?;
                    }
                    ("env" | "file" | "format", _) => {
                        return self.invalid(
                            v.span().start,
                            format!("\"{kind}\" of header \"{name}\" must be a non-empty string, found {}", describe(v.get_ref())),
                        );
                    }
                    _ => {
                        return Err(self.unknown_key(
                            k,
                            &format!("header \"{name}\""),
                            &SECRET_KEYS,
                        ));
                    }
                }
            }
            let Some(source) = source else {
                return self.invalid(at, format!(
                    "header \"{name}\" names no source: add env = \"VAR\" or file = \"path\" (the secret itself never goes in the policy)"
                ));
            };
            headers.push(SecretHeader {
                name,
                source,
                format,
                line: self.line(at),
            });
        }
        if headers.is_empty() {
            return self.invalid(
                value.span().start,
                format!("\"headers\" is empty; write it like {example}, or remove it"),
            );
        }
        Ok(headers)
    }

    /// The strings of a TOML array, or an error at the first non-string.
    fn string_list<'v>(
        &self,
        value: &'v Spanned<DeValue<'_>>,
        hint: &str,
    ) -> Result<Vec<&'v str>, PolicyError> {
        let Some(items) = value.get_ref().as_array() else {
            return self.invalid(value.span().start, hint.into());
        };
        let mut strings = Vec::new();
        for a in items.iter() {
            match a.get_ref().as_str() {
                Some(s) => strings.push(s),
                None => return self.invalid(a.span().start, hint.into()),
            }
        }
        Ok(strings)
    }

    fn limits(&self, value: &Spanned<DeValue<'_>>, context: &str) -> Result<Limits, PolicyError> {
        let table = self.table(value, || format!("\"limits\" must be a table ({context})"))?;
        let mut limits = Limits::default();
        for (key, value) in entries(table) {
            let v = match value.get_ref() {
                DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                    .map(LimitValue::Integer)
                    .unwrap_or(LimitValue::Other("integer")),
                DeValue::String(s) => LimitValue::String(s),
                other => LimitValue::Other(other.type_str()),
            };
            match limits.set(key.get_ref(), v) {
                Ok(()) => {}
                Err(SetError::UnknownKey) => {
                    return Err(self.unknown_key(key, context, &Limits::KEYS));
                }
                Err(SetError::Invalid(message)) => {
                    return self.invalid(value.span().start, message);
                }
            }
        }
        Ok(limits)
    }

    fn env(&self, value: &Spanned<DeValue<'_>>) -> Result<Vec<(String, String)>, PolicyError> {
        let table = self.table(value, || {
            "\"env\" must be a table like { API_TOKEN = \"...\" }".to_owned()
        })?;
        let mut env = Vec::new();
        for (key, value) in entries(table) {
            let name = key.get_ref();
            if name.is_empty() || name.contains(['=', '\0']) {
                return self.invalid(
                    key.span().start,
                    format!("invalid environment variable name \"{name}\""),
                );
            }
            let Some(v) = value.get_ref().as_str() else {
                return self.invalid(
                    value.span().start,
                    format!(
                        "env \"{name}\" must be a string, found {} (quote it: {name} = \"...\")",
                        value.get_ref().type_str()
                    ),
                );
            };
            env.push((name.to_string(), v.to_string()));
        }
        Ok(env)
    }
}

/// The program keys of one guest table, with where each was written.
#[derive(Default)]
struct ProgramKeys {
    component: Option<PathBuf>,
    args: Option<(usize, Vec<String>)>,
    restart: Option<(usize, Restart)>,
    instances: Option<(usize, u32)>,
}

/// A TOML value for a message: strings quoted, others by type.
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("\"{s}\""),
        DeValue::Integer(i) => i.as_str().to_owned(),
        other => format!("of type {}", other.type_str()),
    }
}

/// The valid key closest to `key` (edit distance ≤ 2), for "did you mean".
fn closest<'v>(key: &str, valid: &[&'v str]) -> Option<&'v str> {
    valid
        .iter()
        .map(|v| (edit_distance(key, v), *v))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
