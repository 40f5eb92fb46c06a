//! [`Multipart`]: a `multipart/form-data` body (RFC 7578) of text fields and
//! files, streamed through [`Request::upload`] with progress, several files
//! in one request.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read};

use super::upload::{Progress, UPLOAD_CHUNK};
use super::{IncomingResponse, Request};
use crate::{Error, Result};

/// What one part carries.
enum Content {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// Read while sending; exactly `len` bytes.
    Reader { reader: Box<dyn io::Read>, len: u64 },
}

struct Part {
    /// The part's header block, boundary line included.
    head: Vec<u8>,
    content: Content,
}

impl Part {
    fn len(&self) -> u64 {
        let content = match &self.content {
            Content::Bytes(bytes) => bytes.len() as u64,
            Content::Reader { len, .. } => *len,
        };
        self.head.len() as u64 + content + 2 // CRLF after the content
    }
}

/// A `multipart/form-data` body under construction.
///
/// ```no_run
/// use sandnet_guest::http::{Multipart, Request};
///
/// let form = Multipart::new()
///     .text("title", "holiday")
///     .file("photo", "a.jpg", "image/jpeg", vec![0xff, 0xd8])
///     .file("notes", "n.txt", "text/plain", b"sunny".to_vec());
/// let response = form.send(Request::post("https://uploads.example.com/form"), |p| {
///     eprintln!("sent {} of {:?}", p.sent, p.total)
/// })?;
/// println!("{}", response.status());
/// # Ok::<(), sandnet_guest::Error>(())
/// ```
pub struct Multipart {
    boundary: String,
    parts: Vec<Part>,
}

impl std::fmt::Debug for Multipart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multipart")
            .field("boundary", &self.boundary)
            .field("parts", &self.parts.len())
            .finish()
    }
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

/// A boundary no body is likely to contain: 128 random bits (the standard
/// library's hasher keys come from the host's random source).
fn random_boundary() -> String {
    let mut bits = String::from("sandnet-");
    for _ in 0..2 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u8(0);
        bits.push_str(&format!("{:016x}", hasher.finish()));
    }
    bits
}

/// `value` as a quoted-string parameter: `"` and CR/LF percent-encoded, as
/// browsers do for form-data names and file names.
fn quoted(value: &str) -> String {
    let escaped = value
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    format!("\"{escaped}\"")
}

impl Multipart {
    /// An empty form with a random boundary.
    pub fn new() -> Self {
        Self::with_boundary(random_boundary())
    }

    /// An empty form with `boundary` (for reproducible bodies; it must not
    /// occur in any part).
    pub fn with_boundary(boundary: impl Into<String>) -> Self {
        Multipart {
            boundary: boundary.into(),
            parts: Vec::new(),
        }
    }

    fn head(&self, name: &str, file: Option<(&str, &str)>) -> Vec<u8> {
        let mut head = format!(
            "--{}\r\ncontent-disposition: form-data; name={}",
            self.boundary,
            quoted(name)
        );
        if let Some((filename, content_type)) = file {
            head.push_str(&format!(
                "; filename={}\r\ncontent-type: {}",
                quoted(filename),
                content_type.replace(['\r', '\n'], "")
            ));
        }
        head.push_str("\r\n\r\n");
        head.into_bytes()
    }

    /// Adds a text field.
    pub fn text(mut self, name: &str, value: impl Into<String>) -> Self {
        let head = self.head(name, None);
        self.parts.push(Part {
            head,
            content: Content::Bytes(value.into().into_bytes()),
        });
        self
    }

    /// Adds a file held in memory.
    pub fn file(mut self, name: &str, filename: &str, content_type: &str, bytes: Vec<u8>) -> Self {
        let head = self.head(name, Some((filename, content_type)));
        self.parts.push(Part {
            head,
            content: Content::Bytes(bytes),
        });
        self
    }

    /// Adds a file read while the form is sent: exactly `len` bytes of `reader`.
    pub fn file_reader(
        mut self,
        name: &str,
        filename: &str,
        content_type: &str,
        reader: impl io::Read + 'static,
        len: u64,
    ) -> Self {
        let head = self.head(name, Some((filename, content_type)));
        self.parts.push(Part {
            head,
            content: Content::Reader {
                reader: Box::new(reader),
                len,
            },
        });
        self
    }

    /// The `content-type` header value, boundary included.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    fn closing(&self) -> Vec<u8> {
        format!("--{}--\r\n", self.boundary).into_bytes()
    }

    /// The body's length in bytes (sent as `content-length`).
    pub fn total_bytes(&self) -> u64 {
        self.parts.iter().map(Part::len).sum::<u64>() + self.closing().len() as u64
    }

    /// Sends the form as the body of `request` (its `content-type` set here)
    /// through [`Request::upload`], calling `on_progress` after every chunk,
    /// and returns the response once the body is sent. A file reader that
    /// ends early or fails cancels the request (`invalid-argument`).
    pub fn send(
        self,
        request: Request,
        mut on_progress: impl FnMut(Progress),
    ) -> Result<IncomingResponse> {
        let total = self.total_bytes();
        let closing = self.closing();
        let request = request.header("content-type", self.content_type());
        let mut upload = request.upload(Some(total))?;
        let mut send = |bytes: &[u8]| -> Result<()> {
            for chunk in bytes.chunks(UPLOAD_CHUNK) {
                upload.write(chunk)?;
                on_progress(upload.progress());
            }
            Ok(())
        };
        let mut buf = vec![0u8; UPLOAD_CHUNK];
        for part in self.parts {
            send(&part.head)?;
            match part.content {
                Content::Bytes(bytes) => send(&bytes)?,
                Content::Reader { reader, len } => {
                    let mut limited = reader.take(len);
                    let mut left = len;
                    while left > 0 {
                        let n = match limited.read(&mut buf) {
                            Ok(0) => {
                                return Err(Error::InvalidArgument(format!(
                                    "a multipart file announced {len} bytes but ended {left} short"
                                )));
                            }
                            Ok(n) => n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            Err(e) => {
                                return Err(Error::InvalidArgument(format!(
                                    "reading a multipart file failed: {e}"
                                )));
                            }
                        };
                        send(&buf[..n])?;
                        left -= n as u64;
                    }
                }
            }
            send(b"\r\n")?;
        }
        send(&closing)?;
        upload.finish()
    }
}
