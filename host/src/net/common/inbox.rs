//! The guest's end of a host task's output queue, shared by the long-lived
//! resources of `sandnet:net/websocket` and `sandnet:net/sse`.
//!
//! A host task owns the socket and pushes results into a bounded channel; the
//! resource keeps the receiving end here. Waiting is cancel-safe (a receive
//! that `wasi:io/poll` abandons loses nothing), so a guest can wait on many
//! resources at once and then take the ready one without blocking.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::NetError;

/// Items a host task produced, waiting for the guest.
#[derive(Debug)]
pub struct Inbox<T> {
    rx: mpsc::Receiver<Result<T, NetError>>,
    peeked: Option<Result<T, NetError>>,
    ended: bool,
    what: &'static str,
}

impl<T: Send + 'static> Inbox<T> {
    /// A bounded channel of `capacity` items: the task's sender and the inbox.
    /// `what` names the resource in the `closed` error after the task ended.
    pub fn channel(
        capacity: usize,
        what: &'static str,
    ) -> (mpsc::Sender<Result<T, NetError>>, Self) {
        let (tx, rx) = mpsc::channel(capacity);
        let inbox = Inbox {
            rx,
            peeked: None,
            ended: false,
            what,
        };
        (tx, inbox)
    }

    /// Waits until [`Inbox::try_next`] has something to return (an item, an
    /// error, or the end). Cancel-safe.
    pub async fn ready(&mut self) {
        if self.peeked.is_none() && !self.ended {
            match self.rx.recv().await {
                Some(item) => self.peeked = Some(item),
                None => self.ended = true,
            }
        }
    }

    /// Waits for the next item; `closed` once the task has ended and every
    /// item was taken.
    pub async fn next(&mut self) -> Result<T, NetError> {
        self.ready().await;
        self.take()
    }

    /// The next item if one is ready, without waiting.
    pub fn try_next(&mut self) -> Result<Option<T>, NetError> {
        if self.peeked.is_none() && !self.ended {
            match self.rx.try_recv() {
                Ok(item) => self.peeked = Some(item),
                Err(mpsc::error::TryRecvError::Empty) => return Ok(None),
                Err(mpsc::error::TryRecvError::Disconnected) => self.ended = true,
            }
        }
        self.take().map(Some)
    }

    fn take(&mut self) -> Result<T, NetError> {
        match self.peeked.take() {
            Some(item) => item,
            None => Err(NetError::Closed(format!("the {} is closed", self.what))),
        }
    }
}

/// Aborts a host task when dropped, so dropping a guest's resource stops the
/// work behind it.
#[derive(Debug)]
pub struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
