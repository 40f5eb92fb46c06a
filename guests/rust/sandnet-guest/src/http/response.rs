//! [`Response`]: the `response` record of `sandnet:net/http`, body buffered.

use std::borrow::Cow;

use super::find_header;
use crate::bindings::sandnet::net::http as wit;

/// A complete HTTP response, as returned by [`Request::fetch`](super::Request::fetch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    url: String,
    attempts: u32,
}

impl Response {
    /// Status code, e.g. 200.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Reason phrase sent by the server, or the canonical one.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Response headers in the order received.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text, invalid UTF-8 replaced by U+FFFD.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Takes the body bytes.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The URL that produced this response (differs from the request's after redirects).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Attempts made (1 unless [`Request::retries`](super::Request::retries) retried it).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl Response {
    /// A response assembled from a streamed one (for the async calls).
    pub(crate) fn from_parts(
        status: u16,
        reason: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        url: String,
        attempts: u32,
    ) -> Response {
        Response {
            status,
            reason,
            headers,
            body,
            url,
            attempts,
        }
    }
}

impl From<wit::Response> for Response {
    fn from(raw: wit::Response) -> Self {
        Response {
            status: raw.status,
            reason: raw.reason,
            headers: raw.headers,
            body: raw.body,
            url: raw.url,
            attempts: raw.attempts,
        }
    }
}
