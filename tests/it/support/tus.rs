//! A small tus 1.0 server on loopback (`OPTIONS`, creation, `HEAD` offset,
//! `PATCH`, termination by `DELETE`) that can drop the connection once in the
//! middle of an upload, to test resuming, and can overstate its offset on
//! `HEAD`, to test that clients refuse an offset past their data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::servers::{Loopback, lock};

#[derive(Debug, Default)]
struct State {
    /// Upload id → (announced length, bytes received).
    uploads: HashMap<String, (u64, Vec<u8>)>,
    next_id: usize,
    /// Uploads removed by `DELETE`.
    deleted: Vec<String>,
    /// Drop the connection once an upload holds this many bytes (once).
    drop_at: Option<u64>,
    dropped: usize,
    /// `HEAD` on an upload holding bytes reports its length plus this.
    head_past: Option<u64>,
}

/// The faults a [`TusServer`] plays; the default plays none.
#[derive(Debug, Clone, Copy, Default)]
pub struct TusFaults {
    /// The `PATCH` that brings an upload to this many bytes loses its
    /// connection mid-body (once; the bytes read so far are kept, as a tus
    /// server does).
    pub drop_at: Option<u64>,
    /// `HEAD` on an upload that holds at least one byte answers an
    /// `Upload-Offset` this many bytes past the upload's length, a server
    /// claiming bytes the client never had (an empty upload's `HEAD` still
    /// answers 0, so an upload can start before the lie).
    pub head_past: Option<u64>,
}

impl TusFaults {
    /// Only the dropped connection at `drop_at` bytes.
    pub fn drop_at(bytes: u64) -> TusFaults {
        TusFaults {
            drop_at: Some(bytes),
            ..TusFaults::default()
        }
    }
}

/// The tus server; uploads are created at `/files` and live at `/files/N`
/// (N counts from 1).
#[derive(Debug)]
pub struct TusServer {
    listener: Loopback,
    state: Arc<Mutex<State>>,
}

impl TusServer {
    /// Starts the server, playing `faults`.
    pub fn start(faults: TusFaults) -> TusServer {
        let state = Arc::new(Mutex::new(State {
            drop_at: faults.drop_at,
            head_past: faults.head_past,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        let listener = Loopback::start(
            None,
            Arc::new(move |_, io| {
                let state = Arc::clone(&shared);
                Box::pin(async move {
                    let service = service_fn(move |req| serve(req, Arc::clone(&state)));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(io), service)
                        .await;
                })
            }),
        );
        TusServer { listener, state }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.listener.port())
    }

    /// The announced length and the bytes of upload `id`.
    pub fn upload(&self, id: &str) -> Option<(u64, Vec<u8>)> {
        lock(&self.state).uploads.get(id).cloned()
    }

    /// Uploads created so far (`POST`), deleted ones included.
    pub fn created(&self) -> usize {
        lock(&self.state).next_id
    }

    /// The ids of the uploads removed by `DELETE`, in order.
    pub fn deleted(&self) -> Vec<String> {
        lock(&self.state).deleted.clone()
    }

    /// Connections dropped on purpose so far.
    pub fn dropped(&self) -> usize {
        lock(&self.state).dropped
    }
}

fn reply(status: StatusCode, headers: &[(&str, String)]) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("tus-resumable", "1.0.0".parse().expect("header"));
    for (name, value) in headers {
        response.headers_mut().insert(
            hyper::header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    response
}

fn number(req: &Request<Incoming>, name: &str) -> Option<u64> {
    req.headers().get(name)?.to_str().ok()?.parse().ok()
}

/// The announced length of upload `id` and the offset its `HEAD` answers:
/// the bytes held, or past the length when `head_past` says so.
fn reported_offset(state: &State, id: &str) -> Option<(u64, u64)> {
    let (total, data) = state.uploads.get(id)?;
    let held = data.len() as u64;
    Some(match state.head_past {
        Some(past) if held > 0 => (*total, total.saturating_add(past)),
        _ => (*total, held),
    })
}

async fn serve(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let path = req.uri().path().to_owned();
    let id = path.strip_prefix("/files/").map(str::to_owned);
    match (req.method().clone(), id) {
        (Method::OPTIONS, _) => Ok(reply(
            StatusCode::NO_CONTENT,
            &[
                ("tus-version", "1.0.0".to_owned()),
                ("tus-extension", "creation,termination".to_owned()),
            ],
        )),
        (Method::POST, None) if path == "/files" => {
            let Some(total) = number(&req, "upload-length") else {
                return Ok(reply(StatusCode::BAD_REQUEST, &[]));
            };
            let mut state = lock(&state);
            state.next_id += 1;
            let id = state.next_id.to_string();
            state.uploads.insert(id.clone(), (total, Vec::new()));
            Ok(reply(
                StatusCode::CREATED,
                &[("location", format!("/files/{id}"))],
            ))
        }
        (Method::HEAD, Some(id)) => match reported_offset(&lock(&state), &id) {
            Some((total, offset)) => Ok(reply(
                StatusCode::OK,
                &[
                    ("upload-offset", offset.to_string()),
                    ("upload-length", total.to_string()),
                    ("cache-control", "no-store".to_owned()),
                ],
            )),
            None => Ok(reply(StatusCode::NOT_FOUND, &[])),
        },
        (Method::PATCH, Some(id)) => {
            let offset = number(&req, "upload-offset");
            let held = lock(&state).uploads.get(&id).map(|(_, d)| d.len() as u64);
            if held.is_none() {
                return Ok(reply(StatusCode::NOT_FOUND, &[]));
            }
            if offset != held {
                return Ok(reply(StatusCode::CONFLICT, &[]));
            }
            let mut body = req.into_body();
            while let Some(frame) = body.frame().await {
                let Ok(data) = frame.map_err(std::io::Error::other)?.into_data() else {
                    continue;
                };
                let mut state = lock(&state);
                let drop_at = state.drop_at;
                let State { uploads, .. } = &mut *state;
                let Some((total, stored)) = uploads.get_mut(&id) else {
                    return Ok(reply(StatusCode::NOT_FOUND, &[]));
                };
                let room = usize::try_from(*total).unwrap_or(usize::MAX) - stored.len();
                stored.extend_from_slice(&data[..data.len().min(room)]);
                let len = stored.len() as u64;
                if drop_at.is_some_and(|at| len >= at) {
                    state.drop_at = None;
                    state.dropped += 1;
                    // An error from the service makes hyper drop the connection.
                    return Err(std::io::Error::other("deliberate drop mid-upload"));
                }
            }
            let len = lock(&state).uploads.get(&id).map_or(0, |(_, d)| d.len());
            Ok(reply(
                StatusCode::NO_CONTENT,
                &[("upload-offset", len.to_string())],
            ))
        }
        (Method::DELETE, Some(id)) => {
            let mut state = lock(&state);
            if state.uploads.remove(&id).is_none() {
                return Ok(reply(StatusCode::NOT_FOUND, &[]));
            }
            state.deleted.push(id);
            Ok(reply(StatusCode::NO_CONTENT, &[]))
        }
        _ => Ok(reply(StatusCode::METHOD_NOT_ALLOWED, &[])),
    }
}
