//! A guest's stdout and stderr as events: each stream is a pipe whose far end
//! is read line by line into the fleet's event channel. The pipe is bounded,
//! so a reader that falls behind slows the guest's writes instead of losing lines.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::event::{Event, EventKind, Stream};

/// Longest line delivered in one event; longer ones arrive in pieces.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Bytes a guest's output pipe holds before its writes wait.
const PIPE_BYTES: usize = 64 * 1024;

/// A pipe for one output stream of one instance: returns the end the guest
/// writes to, and the task that turns what arrives into events (it ends once
/// the guest's end is dropped and every line is delivered).
pub fn pipe(
    guest: &str,
    instance: u32,
    stream: Stream,
    events: mpsc::Sender<Event>,
) -> (DuplexStream, JoinHandle<()>) {
    let (guest_end, host_end) = tokio::io::duplex(PIPE_BYTES);
    let guest = guest.to_owned();
    let forwarder = tokio::spawn(forward_lines(host_end, guest, instance, stream, events));
    (guest_end, forwarder)
}

async fn forward_lines(
    from: impl AsyncRead + Unpin,
    guest: String,
    instance: u32,
    stream: Stream,
    events: mpsc::Sender<Event>,
) {
    let mut reader = BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES as u64)
            .read_until(b'\n', &mut line)
            .await;
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let event = Event {
            guest: guest.clone(),
            instance,
            kind: EventKind::Output {
                stream,
                line: String::from_utf8_lossy(&line).into_owned(),
            },
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn lines_arrive_whole_in_order_and_long_ones_in_pieces() {
        let (tx, mut rx) = mpsc::channel(16);
        let (mut end, _forwarder) = pipe("g", 2, Stream::Stderr, tx);
        let long = "x".repeat(MAX_LINE_BYTES + 5);
        let text = format!("one\r\ntwo\n{long}\nlast without newline");
        let wrote = end.write_all(text.as_bytes()).await;
        assert!(wrote.is_ok());
        drop(end);
        let mut lines = Vec::new();
        while let Some(event) = rx.recv().await {
            assert_eq!((event.guest.as_str(), event.instance), ("g", 2));
            match event.kind {
                EventKind::Output { stream, line } => {
                    assert_eq!(stream, Stream::Stderr);
                    lines.push(line);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let want = vec![
            "one".to_owned(),
            "two".to_owned(),
            "x".repeat(MAX_LINE_BYTES),
            "xxxxx".to_owned(),
            "last without newline".to_owned(),
        ];
        assert_eq!(lines, want);
    }
}
