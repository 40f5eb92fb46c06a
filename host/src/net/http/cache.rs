//! The guest's private HTTP response cache (`cache = "memory"` or a size in
//! its policy table): RFC 9111 semantics from `http-cache-semantics` (freshness,
//! `ETag`/`Last-Modified` revalidation, `Vary`, `no-store`), evaluated as a
//! private (single-user) cache, bounded in bytes with least-recently-used
//! eviction. One cache per guest's client, never shared between guests.
//!
//! The cache only answers after the guard granted the request again: the
//! lookup happens in [`HttpClient::send_once`](super::client::HttpClient)
//! after the policy check, so a URL the policy no longer grants is never
//! served from it.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy};

use super::client::{BoxError, ResponseBody};

/// How the cache judges responses: as a private cache (RFC 9111 §3.5: a
/// `private` response may be stored, `s-maxage` is ignored), since every
/// entry serves only the one guest that fetched it.
fn options() -> CacheOptions {
    CacheOptions {
        shared: false,
        ..CacheOptions::default()
    }
}

/// A stored response: head and whole body as they came from the server.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Status code.
    pub status: StatusCode,
    /// Headers as received (possibly updated by a revalidation).
    pub headers: HeaderMap,
    /// The body as received (still content-coded, if it was).
    pub body: Bytes,
}

#[derive(Debug)]
struct Entry {
    policy: CachePolicy,
    stored: Stored,
    last_used: u64,
}

impl Entry {
    fn size(&self) -> u64 {
        let headers: usize = self
            .stored
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        (self.stored.body.len() + headers) as u64
    }
}

/// What to do with a request, per the cache.
#[derive(Debug)]
pub enum Lookup {
    /// Nothing usable is stored: send the request as it is.
    Miss,
    /// Answer from the cache without contacting the server.
    Fresh(Stored),
    /// A stale entry: send the request with these headers (the validators
    /// `If-None-Match` / `If-Modified-Since` added) and call
    /// [`ResponseCache::revalidated`] with the answer.
    Revalidate(HeaderMap),
}

/// One guest's cache: at most `capacity` bytes of headers and bodies.
#[derive(Debug)]
pub struct ResponseCache {
    capacity: u64,
    used: u64,
    clock: u64,
    entries: HashMap<String, Entry>,
}

/// A cache shared by the clones of one guest's client.
pub type SharedCache = Arc<Mutex<ResponseCache>>;

/// The request head `http-cache-semantics` judges.
fn request_parts(method: &Method, url: &str, headers: &HeaderMap) -> Option<http::request::Parts> {
    let mut request = http::Request::builder()
        .method(method.clone())
        .uri(url)
        .body(())
        .ok()?;
    *request.headers_mut() = headers.clone();
    Some(request.into_parts().0)
}

fn response_parts(status: StatusCode, headers: &HeaderMap) -> http::response::Parts {
    let mut response = http::Response::new(());
    *response.status_mut() = status;
    *response.headers_mut() = headers.clone();
    response.into_parts().0
}

impl ResponseCache {
    /// An empty cache holding at most `capacity` bytes.
    pub fn new(capacity: u64) -> Self {
        ResponseCache {
            capacity,
            used: 0,
            clock: 0,
            entries: HashMap::new(),
        }
    }

    /// Whether requests with `method` go through the cache (GET only: HEAD and
    /// unsafe methods go straight to the server).
    pub fn caches(method: &Method) -> bool {
        *method == Method::GET
    }

    /// Bytes stored now.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// What to do with a GET of `url` with `headers`, at `now`.
    pub fn lookup(&mut self, url: &str, headers: &HeaderMap, now: SystemTime) -> Lookup {
        let Some(request) = request_parts(&Method::GET, url, headers) else {
            return Lookup::Miss;
        };
        self.clock += 1;
        let clock = self.clock;
        let Some(entry) = self.entries.get_mut(url) else {
            return Lookup::Miss;
        };
        match entry.policy.before_request(&request, now) {
            BeforeRequest::Fresh(parts) => {
                entry.last_used = clock;
                Lookup::Fresh(Stored {
                    status: entry.stored.status,
                    headers: parts.headers,
                    body: entry.stored.body.clone(),
                })
            }
            // A `Vary` mismatch: the stored answer is for another request.
            BeforeRequest::Stale { matches: false, .. } => Lookup::Miss,
            BeforeRequest::Stale { request, .. } => Lookup::Revalidate(request.headers),
        }
    }

    /// After a revalidation of `url` sent with `sent` headers: on `304 Not
    /// Modified` matching the stored validators, the stored response with its
    /// headers refreshed (and the entry updated); else `None` (the new
    /// response stands, and the old entry is dropped).
    pub fn revalidated(
        &mut self,
        url: &str,
        sent: &HeaderMap,
        status: StatusCode,
        headers: &HeaderMap,
        now: SystemTime,
    ) -> Option<Stored> {
        let request = request_parts(&Method::GET, url, sent)?;
        let entry = self.entries.get_mut(url)?;
        let response = response_parts(status, headers);
        match entry.policy.after_response(&request, &response, now) {
            AfterResponse::NotModified(policy, parts) => {
                entry.policy = policy;
                entry.stored.headers = parts.headers.clone();
                Some(Stored {
                    status: entry.stored.status,
                    headers: parts.headers,
                    body: entry.stored.body.clone(),
                })
            }
            AfterResponse::Modified(..) => {
                self.remove(url);
                None
            }
        }
    }

    /// Whether a response to a GET of `url` with `sent` headers may be stored,
    /// and the policy to store it under.
    pub fn storable(
        url: &str,
        sent: &HeaderMap,
        status: StatusCode,
        headers: &HeaderMap,
        now: SystemTime,
    ) -> Option<CachePolicy> {
        let request = request_parts(&Method::GET, url, sent)?;
        let response = response_parts(status, headers);
        let policy = CachePolicy::new_options(&request, &response, now, options());
        policy.is_storable().then_some(policy)
    }

    /// Stores a whole response, evicting the least recently used entries to
    /// make room; a response larger than the whole cache is not stored.
    pub fn store(&mut self, url: &str, policy: CachePolicy, stored: Stored) {
        self.remove(url);
        self.clock += 1;
        let entry = Entry {
            policy,
            stored,
            last_used: self.clock,
        };
        let size = entry.size();
        if size > self.capacity {
            return;
        }
        while self.used + size > self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(key) => self.remove(&key),
                None => break,
            }
        }
        self.used += size;
        self.entries.insert(url.to_owned(), entry);
    }

    fn remove(&mut self, url: &str) {
        if let Some(old) = self.entries.remove(url) {
            self.used -= old.size();
        }
    }
}

/// A response body passed through to the reader while a copy is kept; when
/// the body ends complete and within `max` bytes, the copy is stored.
pub struct Recording {
    inner: ResponseBody,
    copy: Option<BytesMut>,
    max: u64,
    store: Option<Box<dyn FnOnce(Bytes) + Send>>,
}

impl Recording {
    /// Records `inner`; `store` gets the whole body if it ends within `max` bytes.
    pub fn new(inner: ResponseBody, max: u64, store: Box<dyn FnOnce(Bytes) + Send>) -> Self {
        Recording {
            inner,
            copy: Some(BytesMut::new()),
            max,
            store: Some(store),
        }
    }
}

impl Body for Recording {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let max = self.max;
                    let too_big = self
                        .copy
                        .as_ref()
                        .is_some_and(|c| (c.len() + data.len()) as u64 > max);
                    if too_big {
                        self.copy = None;
                    } else if let Some(copy) = self.copy.as_mut() {
                        copy.extend_from_slice(data);
                    }
                }
            }
            Poll::Ready(None) => {
                if let (Some(copy), Some(store)) = (self.copy.take(), self.store.take()) {
                    store(copy.freeze());
                }
            }
            Poll::Ready(Some(Err(_))) => self.copy = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        // Reported as unfinished so the reader polls the end, which stores.
        self.store.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const URL: &str = "http://a.test/x";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn put(
        cache: &mut ResponseCache,
        url: &str,
        response: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> bool {
        let sent = HeaderMap::new();
        match ResponseCache::storable(url, &sent, StatusCode::OK, response, now) {
            Some(policy) => {
                let stored = Stored {
                    status: StatusCode::OK,
                    headers: response.clone(),
                    body: Bytes::copy_from_slice(body),
                };
                cache.store(url, policy, stored);
                true
            }
            None => false,
        }
    }

    #[test]
    fn fresh_then_stale_with_validators() {
        let now = SystemTime::now();
        let mut cache = ResponseCache::new(1 << 20);
        let response = headers(&[("cache-control", "max-age=60"), ("etag", "\"v1\"")]);
        assert!(put(&mut cache, URL, &response, b"body", now));
        match cache.lookup(URL, &HeaderMap::new(), now + Duration::from_secs(1)) {
            Lookup::Fresh(stored) => assert_eq!(&stored.body[..], b"body"),
            other => panic!("{other:?}"),
        }
        let later = now + Duration::from_secs(120);
        let Lookup::Revalidate(sent) = cache.lookup(URL, &HeaderMap::new(), later) else {
            panic!("a stale entry is revalidated");
        };
        assert_eq!(sent["if-none-match"], "\"v1\"");
        let not_modified = headers(&[("cache-control", "max-age=60"), ("etag", "\"v1\"")]);
        let again = cache
            .revalidated(URL, &sent, StatusCode::NOT_MODIFIED, &not_modified, later)
            .expect("304 keeps the stored body");
        assert_eq!(
            (again.status, &again.body[..]),
            (StatusCode::OK, &b"body"[..])
        );
        assert!(matches!(
            cache.lookup(URL, &HeaderMap::new(), later + Duration::from_secs(1)),
            Lookup::Fresh(_)
        ));
    }

    #[test]
    fn a_changed_resource_replaces_the_entry() {
        let now = SystemTime::now();
        let mut cache = ResponseCache::new(1 << 20);
        let response = headers(&[("cache-control", "max-age=0"), ("etag", "\"v1\"")]);
        assert!(put(&mut cache, URL, &response, b"old", now));
        let Lookup::Revalidate(sent) = cache.lookup(URL, &HeaderMap::new(), now) else {
            panic!("max-age=0 is stale at once");
        };
        let changed = headers(&[("etag", "\"v2\"")]);
        assert!(
            cache
                .revalidated(URL, &sent, StatusCode::OK, &changed, now)
                .is_none()
        );
        assert!(matches!(
            cache.lookup(URL, &HeaderMap::new(), now),
            Lookup::Miss
        ));
        assert_eq!(cache.used(), 0);
    }

    #[test]
    fn no_store_is_not_stored_and_private_is() {
        let now = SystemTime::now();
        let mut cache = ResponseCache::new(1 << 20);
        let no_store = headers(&[("cache-control", "no-store, max-age=60")]);
        assert!(!put(&mut cache, URL, &no_store, b"x", now));
        let private = headers(&[("cache-control", "private, max-age=60")]);
        assert!(
            put(&mut cache, URL, &private, b"x", now),
            "a private cache keeps private answers"
        );
    }

    #[test]
    fn vary_mismatch_is_a_miss() {
        let now = SystemTime::now();
        let mut cache = ResponseCache::new(1 << 20);
        let sent = headers(&[("accept-language", "en")]);
        let response = headers(&[("cache-control", "max-age=60"), ("vary", "accept-language")]);
        let policy = ResponseCache::storable(URL, &sent, StatusCode::OK, &response, now).unwrap();
        cache.store(
            URL,
            policy,
            Stored {
                status: StatusCode::OK,
                headers: response,
                body: Bytes::from_static(b"en"),
            },
        );
        assert!(matches!(cache.lookup(URL, &sent, now), Lookup::Fresh(_)));
        let other = headers(&[("accept-language", "fr")]);
        assert!(matches!(cache.lookup(URL, &other, now), Lookup::Miss));
    }

    #[test]
    fn least_recently_used_entries_are_evicted_to_fit() {
        let now = SystemTime::now();
        let response = headers(&[("cache-control", "max-age=60")]);
        let entry = Entry {
            policy: ResponseCache::storable(URL, &HeaderMap::new(), StatusCode::OK, &response, now)
                .unwrap(),
            stored: Stored {
                status: StatusCode::OK,
                headers: response.clone(),
                body: Bytes::from(vec![0; 100]),
            },
            last_used: 0,
        };
        let size = entry.size();
        let mut cache = ResponseCache::new(size * 2);
        let body = vec![0u8; 100];
        assert!(put(&mut cache, "http://a.test/1", &response, &body, now));
        assert!(put(&mut cache, "http://a.test/2", &response, &body, now));
        // Touch 1, so 2 is the least recently used.
        assert!(matches!(
            cache.lookup("http://a.test/1", &HeaderMap::new(), now),
            Lookup::Fresh(_)
        ));
        assert!(put(&mut cache, "http://a.test/3", &response, &body, now));
        assert!(matches!(
            cache.lookup("http://a.test/2", &HeaderMap::new(), now),
            Lookup::Miss
        ));
        assert!(matches!(
            cache.lookup("http://a.test/1", &HeaderMap::new(), now),
            Lookup::Fresh(_)
        ));
        assert!(cache.used() <= size * 2);
        // Larger than the whole cache: not stored, nothing evicted.
        assert!(put(
            &mut cache,
            "http://a.test/big",
            &response,
            &vec![0; 1000],
            now
        ));
        assert!(matches!(
            cache.lookup("http://a.test/big", &HeaderMap::new(), now),
            Lookup::Miss
        ));
        assert!(matches!(
            cache.lookup("http://a.test/3", &HeaderMap::new(), now),
            Lookup::Fresh(_)
        ));
    }
}
