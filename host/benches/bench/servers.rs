//! The loopback servers every contender talks to: 1 KiB keep-alive responses
//! (nginx when given, else hyper), a streamed download (hyper, one shared 64 KiB
//! chunk repeated, so the server copies nothing) and a tokio-tungstenite echo
//! server. They run on one current-thread runtime on their own thread.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{Full, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::{Options, Sizes};

/// Bytes per download chunk the server writes.
const CHUNK: usize = 64 * 1024;

/// Addresses of the running servers.
pub struct Servers {
    /// `http://127.0.0.1:PORT/` serving 1 KiB.
    pub http_url: String,
    /// Which server serves it.
    pub http_server: &'static str,
    /// `http://127.0.0.1:PORT/` streaming the download.
    pub download_url: String,
    /// `ws://127.0.0.1:PORT/` echoing.
    pub ws_url: String,
    nginx: Option<Child>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some(child) = &mut self.nginx {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Servers {
    /// Starts them all; returns once each is listening.
    pub fn start(options: &Options, sizes: Sizes) -> Servers {
        let (tx, rx) = std::sync::mpsc::channel();
        let download = sizes.download;
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let http = serve_http(Bytes::from(vec![b'x'; 1024])).await;
                let dl = serve_download(download).await;
                let ws = serve_ws().await;
                tx.send((http, dl, ws)).unwrap();
                std::future::pending::<()>().await;
            });
        });
        let (http, dl, ws) = rx.recv().unwrap();
        let mut servers = Servers {
            http_url: format!("http://{http}/"),
            http_server: "hyper",
            download_url: format!("http://{dl}/"),
            ws_url: format!("ws://{ws}/"),
            nginx: None,
        };
        if let Some(bin) = &options.nginx {
            match start_nginx(bin, &options.peers_dir) {
                Ok((child, url)) => {
                    servers.nginx = Some(child);
                    servers.http_url = url;
                    servers.http_server = "nginx";
                }
                Err(err) => eprintln!("bench: SKIPPING nginx ({err}); hyper serves the 1 KiB GETs"),
            }
        }
        servers
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx 1 worker, no access log, serving a 1 KiB file with keep-alive.
fn start_nginx(bin: &Path, dir: &Path) -> Result<(Child, String), String> {
    let dir = dir.join("nginx");
    std::fs::create_dir_all(dir.join("www")).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("www/1k"), vec![b'x'; 1024]).map_err(|e| e.to_string())?;
    let port = free_port();
    let conf = format!(
        "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{ worker_connections 4096; }}\n\
         http {{ access_log off; keepalive_requests 100000000; client_body_temp_path {d}; proxy_temp_path {d};\n\
           fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
           server {{ listen 127.0.0.1:{port}; root {d}/www; location / {{ try_files /1k =404; }} }} }}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf).map_err(|e| e.to_string())?;
    let child = Command::new(bin)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-p")
        .arg(&dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((child, format!("http://127.0.0.1:{port}/")));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err("nginx did not start listening".to_owned())
}

async fn serve_http(body: Bytes) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |_req| {
                    let body = body.clone();
                    async move { Ok::<_, Infallible>(hyper::Response::new(Full::new(body))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

async fn serve_download(total: u64) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let chunk = Bytes::from(vec![b'd'; CHUNK]);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let chunk = chunk.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |_req| {
                    let chunk = chunk.clone();
                    let frames = total.div_ceil(CHUNK as u64);
                    let stream = futures::stream::iter((0..frames).map(move |i| {
                        let left = total - i * CHUNK as u64;
                        let len = usize::try_from(left.min(CHUNK as u64)).unwrap();
                        Ok::<_, Infallible>(Frame::data(chunk.slice(..len)))
                    }));
                    async move {
                        let mut response = hyper::Response::new(StreamBody::new(stream));
                        response
                            .headers_mut()
                            .insert(http::header::CONTENT_LENGTH, total.into());
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

async fn serve_ws() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_binary() || msg.is_text() {
                        if ws.send(msg).await.is_err() {
                            return;
                        }
                    } else if msg.is_close() {
                        return;
                    }
                }
            });
        }
    });
    addr
}
