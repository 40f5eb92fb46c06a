//! HTTP client over `sandnet:net/http`: every request is checked by the host
//! against the guest's policy before anything leaves the sandbox.
//!
//! Three ways to send, from simplest to most flexible (one per WIT function):
//! - [`Request::fetch`] / [`fetch`] / [`get`]: in-memory body, whole response
//!   buffered ([`Response`]), capped by `max_body_bytes`.
//! - [`Request::send`]: the response body is streamed ([`IncomingResponse`],
//!   which implements [`std::io::Read`]), for downloads larger than memory.
//! - [`Request::upload`] / [`upload`]: the request body is streamed too
//!   ([`Upload`], which implements [`std::io::Write`]), with [`Progress`];
//!   [`Multipart`] streams a `multipart/form-data` form (fields and files) that way.
//! - [`TusUpload`]: a resumable upload (tus 1.0) that survives a dropped connection.
//!
//! ```no_run
//! use sandnet_guest::http::{self, Request};
//!
//! # fn main() -> sandnet_guest::Result<()> {
//! // One line for the common case.
//! let page = http::get("https://example.com/")?;
//! assert!(page.is_success());
//!
//! // A builder for everything else.
//! let created = Request::post("https://api.example.com/v1/items")
//!     .header("content-type", "application/json")
//!     .body(r#"{"name":"x"}"#)
//!     .max_redirects(3)
//!     .fetch()?;
//! println!("{} {}", created.status(), created.text());
//! # Ok(())
//! # }
//! ```

mod incoming;
mod method;
mod multipart;
mod nonblocking;
mod request;
mod response;
mod tus;
mod upload;

pub use incoming::{IncomingResponse, MAX_READ_CHUNK, PendingResponse};
pub use method::Method;
pub use multipart::Multipart;
pub use request::Request;
pub use response::Response;
pub use tus::{TUS_VERSION, TusControl, TusOutcome, TusUpload};
pub use upload::{Progress, UPLOAD_CHUNK, Upload, upload};

use crate::Result;

/// Sends `request` and returns the whole response; same as [`Request::fetch`].
pub fn fetch(request: Request) -> Result<Response> {
    request.fetch()
}

/// `GET url` with default options, buffering the whole response.
///
/// ```no_run
/// let response = sandnet_guest::http::get("https://example.com/")?;
/// println!("{}", response.status());
/// # Ok::<(), sandnet_guest::Error>(())
/// ```
pub fn get(url: impl Into<String>) -> Result<Response> {
    Request::get(url).fetch()
}

/// Finds `name` (ASCII case-insensitive) in a header list.
fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
