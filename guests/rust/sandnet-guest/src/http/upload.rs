//! [`Upload`]: a request body streamed by the guest, the `outgoing-body`
//! resource of `sandnet:net/http`.

use std::io;

use super::{IncomingResponse, Request};
use crate::Result;
use crate::bindings::sandnet::net::http as wit;
use crate::poll::Pollable;

/// Largest chunk [`upload`] and [`io::Write`] hand to the host per call.
pub const UPLOAD_CHUNK: usize = 64 * 1024;

/// How much of a streamed body has been sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Body bytes handed to the connection so far.
    pub sent: u64,
    /// The total announced to [`Request::upload`], if any.
    pub total: Option<u64>,
}

/// A request whose body is being written, from [`Request::upload`].
///
/// Write the body with [`write`](Upload::write) (or [`io::Write`]), then call
/// [`finish`](Upload::finish) for the response. Dropping it cancels the request.
#[derive(Debug)]
pub struct Upload {
    raw: wit::OutgoingBody,
}

impl Upload {
    /// Writes one chunk, waiting while the connection applies back-pressure.
    /// Fails with `limit-exceeded` past the announced total.
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        Ok(self.raw.write(chunk)?)
    }

    /// Bytes sent so far and the announced total.
    pub fn progress(&self) -> Progress {
        let p = self.raw.progress();
        Progress {
            sent: p.sent,
            total: p.total,
        }
    }

    /// Ready when [`write`](Upload::write) would not wait.
    pub fn subscribe(&self) -> Pollable {
        self.raw.subscribe()
    }

    /// Ends the body and waits for the response head. Fails with
    /// `invalid-argument` if fewer bytes than the announced total were written.
    pub fn finish(self) -> Result<IncomingResponse> {
        let pending: super::PendingResponse = wit::OutgoingBody::finish(self.raw)?.into();
        pending.wait()
    }
}

impl io::Write for Upload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(UPLOAD_CHUNK);
        self.raw.write(&buf[..n]).map_err(crate::Error::from)?;
        Ok(n)
    }

    /// Nothing to do: every write is handed to the host before it returns.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl From<wit::OutgoingBody> for Upload {
    fn from(raw: wit::OutgoingBody) -> Self {
        Upload { raw }
    }
}

/// Streams `body` as the request body of `request`, calling `on_progress`
/// after every chunk, and returns the response once the body is sent.
///
/// `total_bytes`, if given, is sent as `content-length` and must match what
/// `body` yields. A read error from `body` cancels the request and is
/// returned as `invalid-argument`.
///
/// ```no_run
/// use sandnet_guest::http::{self, Request};
///
/// let data = vec![7u8; 5 * 1024 * 1024];
/// let response = http::upload(
///     Request::put("https://uploads.example.com/blob"),
///     &data[..],
///     Some(data.len() as u64),
///     |p| eprintln!("sent {} of {:?}", p.sent, p.total),
/// )?;
/// println!("{}", response.status());
/// # Ok::<(), sandnet_guest::Error>(())
/// ```
pub fn upload(
    request: Request,
    mut body: impl io::Read,
    total_bytes: Option<u64>,
    mut on_progress: impl FnMut(Progress),
) -> Result<IncomingResponse> {
    let mut upload = request.upload(total_bytes)?;
    let mut buf = vec![0u8; UPLOAD_CHUNK];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(crate::Error::InvalidArgument(format!(
                    "reading the upload body failed: {e}"
                )));
            }
        };
        upload.write(&buf[..n])?;
        on_progress(upload.progress());
    }
    upload.finish()
}
