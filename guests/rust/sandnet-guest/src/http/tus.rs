//! Resumable uploads with the tus 1.0 protocol (<https://tus.io/protocols/resumable-upload>):
//! creation (`POST` with `Upload-Length`), the offset (`HEAD`), and `PATCH`
//! chunks from that offset, so an upload survives a dropped connection.

use super::upload::Progress;
use super::{Request, Response};
use crate::{Error, Result};

/// The protocol version sent in `Tus-Resumable`.
pub const TUS_VERSION: &str = "1.0.0";

/// A tus upload of `data`, sent in chunks of at most `chunk_bytes`.
#[derive(Debug, Clone)]
pub struct TusUpload<'a> {
    data: &'a [u8],
    chunk_bytes: usize,
    max_resumes: u32,
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

fn number(response: &Response, header: &str) -> Result<u64> {
    response
        .header(header)
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            Error::Protocol(format!(
                "tus server answered {} without a numeric {header}",
                response.status()
            ))
        })
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

    /// Creates the upload at `create_url` and returns its URL.
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
        number(&response, "upload-offset")
    }

    /// Sends the data to the upload at `upload_url` from the server's offset,
    /// resuming after a failed `PATCH` (a dropped connection, a timeout) from
    /// the offset the server then reports; `on_progress` gets the bytes the
    /// server has confirmed. Returns the number of resumes.
    pub fn send(&self, upload_url: &str, mut on_progress: impl FnMut(Progress)) -> Result<u32> {
        let total = self.data.len() as u64;
        let mut offset = Self::offset(upload_url)?;
        let mut resumes = 0;
        while offset < total {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let end = start.saturating_add(self.chunk_bytes).min(self.data.len());
            let Some(chunk) = self.data.get(start..end) else {
                return Err(Error::Protocol(format!(
                    "tus server reports offset {offset} past the {total} bytes"
                )));
            };
            let sent = Request::patch(upload_url)
                .header("tus-resumable", TUS_VERSION)
                .header("upload-offset", offset.to_string())
                .header("content-type", "application/offset+octet-stream")
                .body(chunk.to_vec())
                .fetch();
            match sent {
                Ok(response) if response.status() == 204 => {
                    offset = number(&response, "upload-offset")?;
                }
                Ok(response) => {
                    return Err(Error::Protocol(format!(
                        "tus PATCH at offset {offset} answered {}",
                        response.status()
                    )));
                }
                Err(err) if resumes < self.max_resumes => {
                    resumes += 1;
                    let _ = err; // resumed from what the server kept
                    offset = Self::offset(upload_url)?;
                }
                Err(err) => return Err(err),
            }
            on_progress(Progress {
                sent: offset,
                total: Some(total),
            });
        }
        Ok(resumes)
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;

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
}
