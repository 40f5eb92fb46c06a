//! The native clients (the baseline): the bench binary re-executed as
//! `--client http URL N | ws URL N | download URL | download-copy URL`, printing
//! `N BYTES MICROS` like the guests. A current-thread tokio runtime: the fastest
//! native shape.

use std::time::Instant;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Runs one native client and prints its figures.
pub fn main(args: Vec<String>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (n, bytes, micros) = rt.block_on(async {
        let started = Instant::now();
        let (n, bytes) = match args.first().map(String::as_str) {
            Some("http") => http(&args[1], args[2].parse().unwrap()).await,
            Some("ws") => ws(&args[1], args[2].parse().unwrap()).await,
            Some("download") => download(&args[1], false).await,
            Some("download-copy") => download(&args[1], true).await,
            other => panic!("unknown client {other:?}"),
        };
        (n, bytes, started.elapsed().as_micros())
    });
    println!("{n} {bytes} {micros}");
}

async fn http(url: &str, n: u32) -> (u64, u64) {
    let client = reqwest::Client::new();
    let mut bytes = 0;
    for _ in 0..n {
        bytes += client
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len() as u64;
    }
    (u64::from(n), bytes)
}

async fn ws(url: &str, n: u32) -> (u64, u64) {
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    let payload = bytes::Bytes::from_static(&[b'w'; 64]);
    let mut bytes = 0;
    for _ in 0..n {
        ws.send(Message::Binary(payload.clone())).await.unwrap();
        match ws.next().await {
            Some(Ok(Message::Binary(data))) => bytes += data.len() as u64,
            other => panic!("expected the echo, got {other:?}"),
        }
    }
    let _ = ws.close(None).await;
    (u64::from(n), bytes)
}

/// Capacity of the buffer `download-copy` copies each chunk into: a guest's
/// `read(1 MiB)` buffer.
const COPY_BUFFER: usize = 1 << 20;

/// Streams `url`'s body and drops it. With `copy`, each chunk is first copied
/// into one reused buffer, as a guest's read must copy it into its own memory:
/// the floor for any sandboxed download next to reqwest's zero-copy `Bytes`.
async fn download(url: &str, copy: bool) -> (u64, u64) {
    let mut response = reqwest::Client::new().get(url).send().await.unwrap();
    let mut buffer: Vec<u8> = Vec::with_capacity(COPY_BUFFER);
    let (mut chunks, mut bytes) = (0, 0);
    while let Some(chunk) = response.chunk().await.unwrap() {
        if copy {
            buffer.clear();
            buffer.extend_from_slice(&chunk);
            std::hint::black_box(&buffer);
        }
        chunks += 1;
        bytes += chunk.len() as u64;
    }
    (chunks, bytes)
}
