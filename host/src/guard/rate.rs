//! The one token bucket behind every rate limit of a guest.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket: `per_second` tokens, refilled continuously, at most one
/// second's worth banked. Used for `requests_per_second` and `datagrams_per_second`.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        TokenBucket {
            rate,
            tokens: rate,
            last: Instant::now(),
        }
    }

    /// The rate, in tokens per second.
    pub fn per_second(&self) -> u32 {
        // `rate` was made from a u32 and is never fractional.
        self.rate as u32
    }

    /// Changes the rate to `per_second`, keeping the tokens banked (at most
    /// the new second's worth): a lowered rate applies at once, a raised one
    /// as the bucket refills.
    pub fn set_rate(&mut self, per_second: u32) {
        self.refill(Instant::now());
        self.rate = f64::from(per_second.max(1));
        self.tokens = self.tokens.min(self.rate);
    }

    fn refill(&mut self, now: Instant) {
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate);
        self.last = now;
    }

    /// Takes one token, or says the rate is exhausted.
    pub fn try_take(&mut self) -> bool {
        self.take_or_wait().is_ok()
    }

    /// Takes one token, or says how long until the next one is banked.
    pub fn take_or_wait(&mut self) -> Result<(), Duration> {
        self.refill(Instant::now());
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// Puts a reloaded rate limit in force on `bucket`: a new limit starts full,
/// a changed one keeps its banked tokens ([`TokenBucket::set_rate`]), a
/// removed one stops limiting.
pub fn retune(bucket: &Mutex<Option<TokenBucket>>, per_second: Option<u32>) {
    let mut bucket = bucket.lock().unwrap_or_else(|p| p.into_inner());
    match (bucket.as_mut(), per_second) {
        (Some(b), Some(n)) => b.set_rate(n),
        (None, Some(n)) => *bucket = Some(TokenBucket::new(n)),
        (_, None) => *bucket = None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn drain(bucket: &mut TokenBucket) -> usize {
        (0..1000).take_while(|_| bucket.try_take()).count()
    }

    #[test]
    fn an_empty_bucket_says_how_long_until_the_next_token() {
        let mut bucket = TokenBucket::new(4);
        assert_eq!(drain(&mut bucket), 4);
        let wait = bucket.take_or_wait().unwrap_err();
        assert!(
            wait > Duration::from_millis(200) && wait <= Duration::from_millis(250),
            "{wait:?}"
        );
    }

    #[test]
    fn a_lowered_rate_applies_at_once() {
        let mut bucket = TokenBucket::new(100);
        assert!(bucket.try_take());
        bucket.set_rate(2);
        assert_eq!(bucket.per_second(), 2);
        assert_eq!(drain(&mut bucket), 2);
    }

    #[test]
    fn a_raised_rate_keeps_what_was_spent() {
        let mut bucket = TokenBucket::new(2);
        assert_eq!(drain(&mut bucket), 2);
        bucket.set_rate(100);
        assert!(drain(&mut bucket) <= 1, "spent tokens are not handed back");
    }

    #[test]
    fn retune_adds_changes_and_removes_the_limit() {
        let bucket = Mutex::new(None);
        retune(&bucket, Some(3));
        assert_eq!(drain(bucket.lock().unwrap().as_mut().unwrap()), 3);
        retune(&bucket, Some(5));
        assert_eq!(bucket.lock().unwrap().as_ref().unwrap().per_second(), 5);
        retune(&bucket, None);
        assert!(bucket.lock().unwrap().is_none());
    }
}
