//! Response content decoding for `sandnet:net/http` (`request-options.decode`):
//! the host asks for `gzip, deflate, br, zstd` and hands the guest the decoded
//! body, whose bytes (not the compressed ones) are what `max_body_bytes` and
//! `bytes_in_total` count, so a decompression bomb stops at the cap.

use futures::TryStreamExt;
use http::header::{self, HeaderMap, HeaderValue};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tokio::io::{AsyncBufRead, BufReader};
use tokio_util::io::{ReaderStream, StreamReader};

use super::client::ResponseBody;

/// The `accept-encoding` the host sends when the guest asks for decoding.
pub const ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";
/// Largest decoded chunk produced at once: the decoder never runs further
/// ahead of the reader than this.
pub const DECODED_CHUNK: usize = 64 * 1024;

/// A content coding the host decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` (also `x-gzip`).
    Gzip,
    /// `deflate`: zlib-wrapped deflate (RFC 9110 §8.4.1.2).
    Deflate,
    /// `br`: Brotli.
    Brotli,
    /// `zstd`: Zstandard.
    Zstd,
}

impl Coding {
    fn parse(token: &str) -> Option<Coding> {
        match token.to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Coding::Gzip),
            "deflate" => Some(Coding::Deflate),
            "br" => Some(Coding::Brotli),
            "zstd" => Some(Coding::Zstd),
            _ => None,
        }
    }
}

/// The codings of a response's `content-encoding`, in the order they were
/// applied (`identity` skipped). `None` when one is unknown: the body is then
/// handed over as it came, headers untouched.
pub fn codings(headers: &HeaderMap) -> Option<Vec<Coding>> {
    let mut out = Vec::new();
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let text = value.to_str().ok()?;
        for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if token.eq_ignore_ascii_case("identity") {
                continue;
            }
            out.push(Coding::parse(token)?);
        }
    }
    Some(out)
}

/// Sets the request's `accept-encoding` to the codings the host decodes.
pub fn ask_for_encodings(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static(ACCEPT_ENCODING),
    );
}

/// Decodes `body` (coded with `codings`, in order) and fixes `headers`: the
/// codings and the wire length no longer describe what the guest reads.
/// A body without codings is returned as it is.
pub fn decode(body: ResponseBody, codings: &[Coding], headers: &mut HeaderMap) -> ResponseBody {
    if codings.is_empty() {
        return body;
    }
    headers.remove(header::CONTENT_ENCODING);
    headers.remove(header::CONTENT_LENGTH);
    let wire = body.into_data_stream().map_err(std::io::Error::other);
    let mut reader: Box<dyn AsyncBufRead + Send + Unpin> = Box::new(StreamReader::new(wire));
    // The last coding applied is undone first.
    for coding in codings.iter().rev() {
        use async_compression::tokio::bufread as dec;
        reader = match coding {
            Coding::Gzip => Box::new(BufReader::new(dec::GzipDecoder::new(reader))),
            Coding::Deflate => Box::new(BufReader::new(dec::ZlibDecoder::new(reader))),
            Coding::Brotli => Box::new(BufReader::new(dec::BrotliDecoder::new(reader))),
            Coding::Zstd => Box::new(BufReader::new(dec::ZstdDecoder::new(reader))),
        };
    }
    let decoded = ReaderStream::with_capacity(reader, DECODED_CHUNK)
        .map_ok(Frame::data)
        .map_err(|e| -> super::client::BoxError { Box::new(e) });
    StreamBody::new(decoded).boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn headers(encoding: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for e in encoding {
            h.append(header::CONTENT_ENCODING, e.parse().unwrap());
        }
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(3u64));
        h
    }

    #[test]
    fn content_encoding_is_read_in_order() {
        let cases: [(&[&str], Option<Vec<Coding>>); 6] = [
            (&[], Some(vec![])),
            (&["identity"], Some(vec![])),
            (&["GZIP"], Some(vec![Coding::Gzip])),
            (
                &["deflate, br"],
                Some(vec![Coding::Deflate, Coding::Brotli]),
            ),
            (&["zstd", "x-gzip"], Some(vec![Coding::Zstd, Coding::Gzip])),
            (&["gzip", "compress"], None),
        ];
        for (input, want) in cases {
            assert_eq!(codings(&headers(input)), want, "{input:?}");
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    async fn collect(body: ResponseBody) -> Result<Vec<u8>, String> {
        body.collect()
            .await
            .map(|c| c.to_bytes().to_vec())
            .map_err(|e| e.to_string())
    }

    fn wire(bytes: Vec<u8>) -> ResponseBody {
        http_body_util::Full::new(Bytes::from(bytes))
            .map_err(|never| match never {})
            .boxed_unsync()
    }

    #[tokio::test]
    async fn gzip_is_decoded_and_headers_fixed() {
        let mut h = headers(&["gzip"]);
        let body = decode(wire(gzip(b"hello hello hello")), &[Coding::Gzip], &mut h);
        assert_eq!(collect(body).await.unwrap(), b"hello hello hello");
        assert!(!h.contains_key(header::CONTENT_ENCODING));
        assert!(!h.contains_key(header::CONTENT_LENGTH));
    }

    #[tokio::test]
    async fn stacked_codings_are_undone_last_first() {
        let twice = gzip(&gzip(b"abc"));
        let mut h = headers(&["gzip, gzip"]);
        let body = decode(wire(twice), &[Coding::Gzip, Coding::Gzip], &mut h);
        assert_eq!(collect(body).await.unwrap(), b"abc");
    }

    #[tokio::test]
    async fn corrupt_data_is_an_error_not_a_short_body() {
        let mut h = headers(&["gzip"]);
        let body = decode(wire(b"not gzip at all".to_vec()), &[Coding::Gzip], &mut h);
        assert!(collect(body).await.is_err());
    }

    #[tokio::test]
    async fn decoding_runs_no_further_ahead_than_one_chunk() {
        let bomb = gzip(&vec![0u8; 10 * 1024 * 1024]);
        let mut h = headers(&["gzip"]);
        let mut body = decode(wire(bomb), &[Coding::Gzip], &mut h);
        let frame = body.frame().await.unwrap().unwrap();
        let len = frame.into_data().unwrap().len();
        assert!(len > 0 && len <= DECODED_CHUNK, "{len}");
    }
}
