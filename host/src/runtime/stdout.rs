//! The host's own stdout as a guest's stdout, with pipe semantics: once the
//! reader has gone (`sandnet run … | head`), the guest is ended quietly, as
//! SIGPIPE ends a native program, instead of getting a write error it would
//! turn into a panic and a trap.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use tokio::sync::Notify;

/// Set once the host's stdout reported a broken pipe.
#[derive(Debug, Clone, Default)]
pub struct PipeClosed {
    notify: Arc<Notify>,
}

impl PipeClosed {
    /// Completes once the pipe has closed (at once if it already has).
    pub async fn closed(&self) {
        self.notify.notified().await;
    }

    fn close(&self) {
        // `notify_one` stores a permit, so a later `closed()` completes too.
        self.notify.notify_one();
    }
}

/// A writer that forwards to `inner` until it reports a broken pipe, then
/// swallows every write (the run is about to end) and trips [`PipeClosed`].
pub struct HostStdout<W> {
    inner: W,
    closed: PipeClosed,
    broken: bool,
}

impl<W> HostStdout<W> {
    /// Wraps `inner`; `closed` trips when it reports a broken pipe.
    pub fn new(inner: W, closed: PipeClosed) -> Self {
        HostStdout {
            inner,
            closed,
            broken: false,
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for HostStdout<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.broken {
            return Poll::Ready(Ok(buf.len()));
        }
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::BrokenPipe => {
                self.broken = true;
                self.closed.close();
                Poll::Ready(Ok(buf.len()))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.broken {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::BrokenPipe => {
                self.broken = true;
                self.closed.close();
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.broken {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn a_broken_pipe_trips_the_signal_and_later_writes_succeed() {
        let (reader, writer) = tokio::io::duplex(64);
        drop(reader);
        let closed = PipeClosed::default();
        let mut out = HostStdout::new(writer, closed.clone());
        assert!(out.write_all(b"first").await.is_ok());
        assert!(out.write_all(b"second").await.is_ok());
        let tripped = tokio::time::timeout(std::time::Duration::from_secs(1), closed.closed());
        assert!(tripped.await.is_ok(), "the closed pipe was noticed");
    }
}
