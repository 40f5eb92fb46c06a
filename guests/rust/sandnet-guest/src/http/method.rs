//! [`Method`]: the `method` variant of `sandnet:net/http`.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use crate::bindings::sandnet::net::http as wit;

/// An HTTP request method.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Method {
    /// `GET`
    #[default]
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
    /// `CONNECT`
    Connect,
    /// Any other method token, sent as written.
    Other(String),
}

impl Method {
    /// The method token as sent on the wire, e.g. `GET`.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Connect => "CONNECT",
            Method::Other(token) => token,
        }
    }

    pub(crate) fn to_wit(&self) -> wit::Method {
        match self {
            Method::Get => wit::Method::Get,
            Method::Head => wit::Method::Head,
            Method::Post => wit::Method::Post,
            Method::Put => wit::Method::Put,
            Method::Patch => wit::Method::Patch,
            Method::Delete => wit::Method::Delete,
            Method::Options => wit::Method::Options,
            Method::Trace => wit::Method::Trace,
            Method::Connect => wit::Method::Connect,
            Method::Other(token) => wit::Method::Other(token.clone()),
        }
    }
}

impl FromStr for Method {
    type Err = Infallible;

    /// Standard methods are recognised in any case (`post` is `POST`); any
    /// other token becomes [`Method::Other`] unchanged, for the host to judge.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const KNOWN: [(&str, Method); 9] = [
            ("GET", Method::Get),
            ("HEAD", Method::Head),
            ("POST", Method::Post),
            ("PUT", Method::Put),
            ("PATCH", Method::Patch),
            ("DELETE", Method::Delete),
            ("OPTIONS", Method::Options),
            ("TRACE", Method::Trace),
            ("CONNECT", Method::Connect),
        ];
        Ok(KNOWN
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map_or_else(|| Method::Other(s.to_owned()), |(_, m)| m))
    }
}

impl From<&str> for Method {
    fn from(s: &str) -> Self {
        match s.parse() {
            Ok(m) => m,
            Err(never) => match never {},
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_standard_methods_in_any_case_and_keeps_others() {
        let cases = [
            ("GET", Method::Get),
            ("get", Method::Get),
            ("Post", Method::Post),
            ("delete", Method::Delete),
            ("OPTIONS", Method::Options),
            ("PROPFIND", Method::Other("PROPFIND".into())),
            ("purge", Method::Other("purge".into())),
        ];
        for (input, want) in cases {
            assert_eq!(Method::from(input), want, "{input:?}");
        }
    }
}
