//! [`Request`]: a request builder over the `request` and `request-options`
//! records of `sandnet:net/http`.

use super::{IncomingResponse, Method, PendingResponse, Response, Upload};
use crate::Result;
use crate::bindings::sandnet::net::http as wit;

/// An HTTP request, built step by step and sent with [`fetch`](Request::fetch),
/// [`send`](Request::send) or [`upload`](Request::upload).
///
/// Options left unset take the policy's limits or the host's defaults (connect
/// 5 s, first byte 15 s, total 30 s, no redirects, body cap `max_body_bytes`).
/// A value set here can tighten the policy's limit but never loosen it.
///
/// ```no_run
/// use sandnet_guest::http::Request;
///
/// let response = Request::get("https://api.example.com/v1/items?page=2")
///     .header("accept", "application/json")
///     .timeout_ms(5_000)
///     .max_redirects(2)
///     .fetch()?;
/// # Ok::<(), sandnet_guest::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is sent with fetch(), send() or upload()"]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    options: wit::RequestOptions,
}

impl Request {
    /// A request with `method` to the absolute `http://` or `https://` `url`.
    pub fn new(method: impl Into<Method>, url: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            options: wit::RequestOptions {
                connect_timeout_ms: None,
                first_byte_timeout_ms: None,
                total_timeout_ms: None,
                max_redirects: None,
                max_body_bytes: None,
                retries: None,
                retry_backoff_ms: None,
                retry_non_idempotent: None,
                decode: None,
            },
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// A `HEAD` request.
    pub fn head(url: impl Into<String>) -> Self {
        Self::new(Method::Head, url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new(Method::Put, url)
    }

    /// A `PATCH` request.
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new(Method::Patch, url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(Method::Delete, url)
    }

    /// Adds a header (names are case-insensitive; repeats are kept). `host`,
    /// `content-length` and `transfer-encoding` are the host's to set: the
    /// request fails with `invalid-argument` if they are given here.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body bytes (none by default). Not allowed with [`upload`](Request::upload).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Time allowed for the whole exchange, body included, in milliseconds.
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.options.total_timeout_ms = Some(ms);
        self
    }

    /// Time allowed to connect (TCP and TLS), in milliseconds.
    pub fn connect_timeout_ms(mut self, ms: u32) -> Self {
        self.options.connect_timeout_ms = Some(ms);
        self
    }

    /// Time allowed between sending the request and the response head, in milliseconds.
    pub fn first_byte_timeout_ms(mut self, ms: u32) -> Self {
        self.options.first_byte_timeout_ms = Some(ms);
        self
    }

    /// Follows up to `n` redirects, each hop checked by the policy again
    /// (default 0: a 3xx response is returned as is).
    pub fn max_redirects(mut self, n: u32) -> Self {
        self.options.max_redirects = Some(n);
        self
    }

    /// Largest response body [`fetch`](Request::fetch) buffers, in bytes.
    pub fn max_body_bytes(mut self, bytes: u64) -> Self {
        self.options.max_body_bytes = Some(bytes);
        self
    }

    /// Retries a failed attempt up to `n` more times: connect errors, connect
    /// and first-byte timeouts, a lost connection, and statuses 408, 429, 502,
    /// 503, 504, with exponential backoff and jitter (or the server's
    /// `Retry-After`), all within the total timeout. Only idempotent methods
    /// (GET, HEAD, PUT, DELETE, OPTIONS) unless
    /// [`retry_non_idempotent`](Request::retry_non_idempotent). Every attempt
    /// is checked by the policy and counts against its rates. Never for
    /// [`upload`](Request::upload). [`Response::attempts`] tells how many ran.
    pub fn retries(mut self, n: u32) -> Self {
        self.options.retries = Some(n);
        self
    }

    /// Wait before the first retry, in milliseconds (default 250), doubled
    /// for each later one.
    pub fn retry_backoff_ms(mut self, ms: u32) -> Self {
        self.options.retry_backoff_ms = Some(ms);
        self
    }

    /// Retries POST, PATCH and other non-idempotent methods too (the server
    /// may then see the request more than once).
    pub fn retry_non_idempotent(mut self) -> Self {
        self.options.retry_non_idempotent = Some(true);
        self
    }

    /// Asks for a compressed response (gzip, deflate, br, zstd) and gets the
    /// decoded body; `content-encoding` and `content-length` are removed. The
    /// decoded size is what the body caps count.
    pub fn decode(mut self) -> Self {
        self.options.decode = Some(true);
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers added so far, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Sends the request and returns the whole response, its body buffered.
    ///
    /// Any HTTP status is a response, 4xx and 5xx included; `Err` means no
    /// response: denied by the policy, DNS, connect, TLS, timeout, body cap, ...
    pub fn fetch(self) -> Result<Response> {
        let (request, options) = self.into_wit();
        Ok(wit::fetch(&request, Some(options))?.into())
    }

    /// Sends the request and waits for the response head; the body is then
    /// read incrementally from the [`IncomingResponse`].
    pub fn send(self) -> Result<IncomingResponse> {
        self.send_pending()?.wait()
    }

    /// Sends the request and returns at once; poll or wait on the
    /// [`PendingResponse`] for the head. Dropping it cancels the request.
    pub fn send_pending(self) -> Result<PendingResponse> {
        let (request, options) = self.into_wit();
        Ok(wit::send(&request, Some(options))?.into())
    }

    /// Starts the request with a body the guest streams through the returned
    /// [`Upload`]. `total_bytes`, if given, is sent as `content-length`, and
    /// writing more or fewer bytes is an error. Redirects are never followed
    /// (a streamed body cannot be replayed). The request must have no
    /// [`body`](Request::body).
    pub fn upload(self, total_bytes: Option<u64>) -> Result<Upload> {
        let (request, options) = self.into_wit();
        Ok(wit::upload(&request, total_bytes, Some(options))?.into())
    }

    fn into_wit(self) -> (wit::Request, wit::RequestOptions) {
        let request = wit::Request {
            method: self.method.to_wit(),
            url: self.url,
            headers: self.headers,
            body: self.body,
        };
        (request, self.options)
    }
}
