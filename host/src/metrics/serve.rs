//! The `/metrics` endpoint: a small HTTP/1.1 server (hyper) on the caller's
//! tokio runtime that answers `GET /metrics` with [`Metrics::render`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::Metrics;

/// The path metrics are served on.
pub const PATH: &str = "/metrics";

/// How long a client may take to send its request head before the connection
/// is closed (a scraper sends it at once; a stalled peer must not hold a task).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the accept loop waits after a failed accept (e.g. out of file
/// descriptors) before trying again, so it does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Serves `metrics` at `http://ADDR/metrics` (`text/plain; version=0.0.4`;
/// every other path is 404) on the current tokio runtime. Binds `addr` (port 0
/// picks a free port) and returns the bound address and the server task;
/// abort the task to stop serving.
pub async fn serve(
    addr: SocketAddr,
    metrics: Metrics,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await.with_context(|| {
        format!("cannot serve metrics on {addr}; is another process using that port? pick another --metrics address")
    })?;
    let bound = listener
        .local_addr()
        .with_context(|| format!("cannot read the metrics listener's address ({addr})"))?;
    tracing::info!(%bound, "serving metrics at http://{bound}{PATH}");
    let task = tokio::spawn(accept_loop(listener, metrics));
    Ok((bound, task))
}

async fn accept_loop(listener: TcpListener, metrics: Metrics) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(%err, "metrics listener cannot accept a connection");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(respond(&req, &metrics)) }
            });
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(err) = served {
                tracing::debug!(%err, %peer, "metrics connection ended with an error");
            }
        });
    }
}

/// The answer to one request.
fn respond(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    if req.uri().path() != PATH {
        return plain(
            StatusCode::NOT_FOUND,
            "not found; metrics are at /metrics\n",
        );
    }
    match *req.method() {
        Method::GET => {
            let mut res = Response::new(Full::new(Bytes::from(metrics.render())));
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(prometheus::TEXT_FORMAT),
            );
            res
        }
        _ => {
            let mut res = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
            res.headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("GET"));
            res
        }
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}
