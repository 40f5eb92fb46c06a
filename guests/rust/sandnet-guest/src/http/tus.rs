//! Resumable uploads with the tus 1.0 protocol (<https://tus.io/protocols/resumable-upload>):
//! creation (`POST` with `Upload-Length`), the offset (`HEAD`), `PATCH`
//! chunks from that offset (so an upload survives a dropped connection, or
//! is paused and resumed from its URL later) and termination (`DELETE`).

use super::upload::{Progress, upload};
use super::{Request, Response};
use crate::{Error, Result};

/// The protocol version sent in `Tus-Resumable`.
pub const TUS_VERSION: &str = "1.0.0";

/// A tus upload of `data`, sent in chunks of at most `chunk_bytes`.
///
/// ```no_run
/// use sandnet_guest::http::{TusControl, TusOutcome, TusUpload};
///
/// let data = vec![7u8; 10 * 1024 * 1024];
/// let upload = TusUpload::new(&data).chunk_bytes(1024 * 1024);
/// // Pause once half is on the server; the outcome keeps the upload URL.
/// let half = data.len() as u64 / 2;
/// let outcome = upload.start("https://up.example.com/files", |p| {
///     if p.sent >= half { TusControl::Pause } else { TusControl::Continue }
/// })?;
/// if let TusOutcome::Paused { url, .. } = outcome {
///     // Later (even in another run): HEAD, then PATCHes from the server's offset.
///     upload.resume(&url, |_| TusControl::Continue)?;
/// }
/// # Ok::<(), sandnet_guest::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TusUpload<'a> {
    data: &'a [u8],
    chunk_bytes: usize,
    max_resumes: u32,
}

/// What the progress callback of [`TusUpload::start`] / [`TusUpload::resume`]
/// asks for after each chunk the server confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TusControl {
    /// Send the next chunk.
    Continue,
    /// Stop here; the upload stays on the server and can be resumed from its URL.
    Pause,
    /// Stop and delete the upload on the server (`DELETE`, tus termination).
    Cancel,
}

/// How a [`TusUpload::start`] / [`TusUpload::resume`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TusOutcome {
    /// The server holds every byte.
    Done {
        /// The upload's URL.
        url: String,
        /// Failed `PATCH`es resumed from the server's offset.
        resumes: u32,
    },
    /// Paused on request; resume with [`TusUpload::resume`]`(url)`.
    Paused {
        /// The upload's URL.
        url: String,
        /// Bytes the server has confirmed.
        offset: u64,
    },
    /// Cancelled on request; the server deleted the upload.
    Cancelled {
        /// The URL the upload had.
        url: String,
    },
}

/// `location` (absolute, or a path) resolved against `base`'s origin.
fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let origin_end = base
        .find("://")
        .and_then(|s| base[s + 3..].find('/').map(|p| s + 3 + p))
        .unwrap_or(base.len());
    format!("{}{location}", &base[..origin_end])
}

/// The numeric header `name` of a response that answered `status`.
fn number(status: u16, value: Option<&str>, name: &str) -> Result<u64> {
    value.and_then(|v| v.trim().parse().ok()).ok_or_else(|| {
        Error::Protocol(format!(
            "tus server answered {status} without a numeric {name}"
        ))
    })
}

/// Whether a failed `PATCH` is worth resuming: the connection or the server
/// failed, not the policy, a limit or the request itself.
fn resumable(err: &Error) -> bool {
    !matches!(
        err,
        Error::Denied { .. } | Error::LimitExceeded { .. } | Error::InvalidArgument(_)
    )
}

/// The offset a `PATCH` from `sent` to at most `total` confirmed: `status`
/// must be 204 and `upload_offset` past `sent` (anything else is a protocol
/// error, so a server that never advances cannot loop the upload forever).
fn confirmed(status: u16, upload_offset: Option<&str>, sent: u64, total: u64) -> Result<u64> {
    if status != 204 {
        return Err(Error::Protocol(format!(
            "tus PATCH at offset {sent} answered {status}, expected 204"
        )));
    }
    let offset = number(status, upload_offset, "Upload-Offset")?;
    if offset <= sent || offset > total {
        return Err(Error::Protocol(format!(
            "tus PATCH at offset {sent} answered Upload-Offset {offset} (expected more than {sent}, at most {total})"
        )));
    }
    Ok(offset)
}

/// The error for a server claiming `offset` bytes of an upload whose data
/// has only `total`.
fn past_the_data(offset: u64, total: u64) -> Error {
    Error::Protocol(format!(
        "tus server reports offset {offset} past the {total} bytes"
    ))
}

/// The offset a `HEAD` reported, which must lie within the `total` bytes of
/// the data: a server claiming bytes the client never had has lost or mixed
/// up the upload, so this is a protocol error, never a finished upload.
fn within_the_data(offset: u64, total: u64) -> Result<u64> {
    if offset > total {
        return Err(past_the_data(offset, total));
    }
    Ok(offset)
}

impl<'a> TusUpload<'a> {
    /// An upload of `data` in 4 MiB chunks, resuming up to 5 times.
    pub fn new(data: &'a [u8]) -> Self {
        TusUpload {
            data,
            chunk_bytes: 4 * 1024 * 1024,
            max_resumes: 5,
        }
    }

    /// Largest `PATCH` body (keep it under the policy's `max_body_bytes`).
    pub fn chunk_bytes(mut self, bytes: usize) -> Self {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// How many failed `PATCH`es are resumed (from the server's offset)
    /// before the upload fails.
    pub fn max_resumes(mut self, n: u32) -> Self {
        self.max_resumes = n;
        self
    }

    /// Creates the upload at `create_url` (`POST`) and returns its URL.
    pub fn create(&self, create_url: &str) -> Result<String> {
        let response = Request::post(create_url)
            .header("tus-resumable", TUS_VERSION)
            .header("upload-length", self.data.len().to_string())
            .body(Vec::new())
            .fetch()?;
        if response.status() != 201 {
            return Err(Error::Protocol(format!(
                "tus creation at {create_url} answered {}, expected 201",
                response.status()
            )));
        }
        let location = response.header("location").ok_or_else(|| {
            Error::Protocol(format!("tus creation at {create_url} gave no Location"))
        })?;
        Ok(resolve(create_url, location))
    }

    /// The server's offset for the upload at `upload_url` (`HEAD`).
    pub fn offset(upload_url: &str) -> Result<u64> {
        let response = Request::head(upload_url)
            .header("tus-resumable", TUS_VERSION)
            .fetch()?;
        Self::offset_of(upload_url, &response)
    }

    fn offset_of(upload_url: &str, response: &Response) -> Result<u64> {
        let status = response.status();
        if !(200..300).contains(&status) {
            return Err(Error::Protocol(format!(
                "tus upload {upload_url} answered HEAD with {status} (gone, or not a tus upload)"
            )));
        }
        number(status, response.header("upload-offset"), "Upload-Offset")
    }

    /// The server's offset for the upload of this data at `upload_url`
    /// (`HEAD`), refused when it lies past the data.
    fn offset_within(&self, upload_url: &str) -> Result<u64> {
        within_the_data(Self::offset(upload_url)?, self.data.len() as u64)
    }

    /// Deletes the upload at `upload_url` (`DELETE`, the tus termination
    /// extension), e.g. one paused earlier that is no longer wanted.
    pub fn terminate(upload_url: &str) -> Result<()> {
        let response = Request::delete(upload_url)
            .header("tus-resumable", TUS_VERSION)
            .fetch()?;
        let status = response.status();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(Error::Protocol(format!(
                "tus termination of {upload_url} answered {status}, expected 204"
            )))
        }
    }

    /// Creates the upload at `create_url`, then sends it as
    /// [`resume`](TusUpload::resume) does.
    pub fn start(
        &self,
        create_url: &str,
        on_progress: impl FnMut(Progress) -> TusControl,
    ) -> Result<TusOutcome> {
        let url = self.create(create_url)?;
        self.resume(&url, on_progress)
    }

    /// Sends the data to the upload at `upload_url` from the offset the
    /// server reports (`HEAD`), one `PATCH` per chunk, resuming after a
    /// failed `PATCH` (a dropped connection, a timeout) from the offset the
    /// server then reports, up to `max_resumes` times. An offset past the
    /// data's length fails the upload with [`Error::Protocol`].
    ///
    /// `on_progress` gets the bytes the server has confirmed after every
    /// chunk (and after every resume) and says whether to go on, pause
    /// (the upload stays on the server) or cancel (it is deleted).
    pub fn resume(
        &self,
        upload_url: &str,
        mut on_progress: impl FnMut(Progress) -> TusControl,
    ) -> Result<TusOutcome> {
        let total = self.data.len() as u64;
        let mut offset = self.offset_within(upload_url)?;
        let mut resumes = 0;
        while offset < total {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let end = start.saturating_add(self.chunk_bytes).min(self.data.len());
            let chunk = self
                .data
                .get(start..end)
                .ok_or_else(|| past_the_data(offset, total))?;
            let patch = Request::patch(upload_url)
                .header("tus-resumable", TUS_VERSION)
                .header("upload-offset", offset.to_string())
                .header("content-type", "application/offset+octet-stream");
            match upload(patch, chunk, Some(chunk.len() as u64), |_| {}) {
                Ok(response) => {
                    let upload_offset = response.header("upload-offset");
                    offset = confirmed(response.status(), upload_offset.as_deref(), offset, total)?;
                }
                Err(err) if resumable(&err) && resumes < self.max_resumes => {
                    resumes += 1;
                    offset = self.offset_within(upload_url)?;
                }
                Err(err) => return Err(err),
            }
            let progress = Progress {
                sent: offset,
                total: Some(total),
            };
            match on_progress(progress) {
                TusControl::Continue => {}
                TusControl::Pause if offset < total => {
                    return Ok(TusOutcome::Paused {
                        url: upload_url.to_owned(),
                        offset,
                    });
                }
                TusControl::Pause => {}
                TusControl::Cancel => {
                    Self::terminate(upload_url)?;
                    return Ok(TusOutcome::Cancelled {
                        url: upload_url.to_owned(),
                    });
                }
            }
        }
        Ok(TusOutcome::Done {
            url: upload_url.to_owned(),
            resumes,
        })
    }

    /// [`resume`](TusUpload::resume) without pausing or cancelling: sends
    /// everything and returns the number of resumes.
    pub fn send(&self, upload_url: &str, mut on_progress: impl FnMut(Progress)) -> Result<u32> {
        let outcome = self.resume(upload_url, |p| {
            on_progress(p);
            TusControl::Continue
        })?;
        match outcome {
            TusOutcome::Done { resumes, .. } => Ok(resumes),
            TusOutcome::Paused { .. } | TusOutcome::Cancelled { .. } => Err(Error::Protocol(
                "tus upload stopped although it was never asked to".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Error, confirmed, number, resolve, resumable, within_the_data};

    #[test]
    fn locations_resolve_against_the_origin() {
        let base = "http://127.0.0.1:8080/files/";
        assert_eq!(
            resolve(base, "/files/abc"),
            "http://127.0.0.1:8080/files/abc"
        );
        assert_eq!(resolve(base, "http://x.test/u/1"), "http://x.test/u/1");
        assert_eq!(resolve("http://h.test", "/a"), "http://h.test/a");
    }

    #[test]
    fn offsets_must_be_numbers() {
        assert_eq!(number(200, Some(" 42 "), "Upload-Offset").ok(), Some(42));
        for bad in [None, Some(""), Some("-1"), Some("4x")] {
            let err = number(200, bad, "Upload-Offset").err();
            assert_eq!(
                err.map(|e| e.to_string()),
                Some(
                    "protocol: tus server answered 200 without a numeric Upload-Offset".to_owned()
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_patch_must_advance_the_offset_within_the_total() {
        assert_eq!(confirmed(204, Some("20"), 10, 30).ok(), Some(20));
        assert_eq!(confirmed(204, Some("30"), 10, 30).ok(), Some(30));
        let cases = [
            (
                200,
                Some("20"),
                "tus PATCH at offset 10 answered 200, expected 204",
            ),
            (
                204,
                Some("10"),
                "tus PATCH at offset 10 answered Upload-Offset 10 (expected more than 10, at most 30)",
            ),
            (
                204,
                Some("31"),
                "tus PATCH at offset 10 answered Upload-Offset 31 (expected more than 10, at most 30)",
            ),
            (
                204,
                None,
                "tus server answered 204 without a numeric Upload-Offset",
            ),
        ];
        for (status, header, message) in cases {
            let err = confirmed(status, header, 10, 30)
                .err()
                .map(|e| e.to_string());
            assert_eq!(
                err,
                Some(format!("protocol: {message}")),
                "{status} {header:?}"
            );
        }
    }

    #[test]
    fn a_reported_offset_must_lie_within_the_data() {
        assert_eq!(within_the_data(0, 30).ok(), Some(0));
        assert_eq!(within_the_data(12, 30).ok(), Some(12));
        assert_eq!(within_the_data(30, 30).ok(), Some(30));
        assert_eq!(within_the_data(0, 0).ok(), Some(0));
        for (offset, total) in [(31, 30), (40, 30), (1, 0), (u64::MAX, 30)] {
            assert_eq!(
                within_the_data(offset, total).err().map(|e| e.to_string()),
                Some(format!(
                    "protocol: tus server reports offset {offset} past the {total} bytes"
                )),
                "{offset} of {total}"
            );
        }
    }

    #[test]
    fn only_transport_failures_are_resumed() {
        assert!(resumable(&Error::Closed("reset".into())));
        assert!(resumable(&Error::Connect("refused".into())));
        assert!(!resumable(&Error::InvalidArgument("bad".into())));
        assert!(!resumable(&Error::LimitExceeded {
            name: "max_body_bytes".into(),
            value: 1
        }));
        let denied = Error::Denied {
            reason: "no rule".into(),
            suggestion: None,
            rule_line: None,
        };
        assert!(!resumable(&denied));
    }
}
