//! A small per-thread memo of pure parses keyed by the exact text a guest
//! passed: a loop that calls the same URL again skips the URL and target
//! parsers (about a tenth of the host's CPU per keep-alive request).
//!
//! Only functions of the text alone are memoised (`Url::parse`,
//! `Target::parse`): no policy decision, grant or secret is ever kept here, so
//! a reload cannot be bypassed through it. The memo is bounded in entries and
//! in key length, so a guest sending many or huge URLs costs it nothing more
//! than parsing them.

use std::collections::HashMap;

/// Most entries one memo holds; it starts over when full.
pub const MEMO_ENTRIES: usize = 256;
/// Longest key (bytes) worth keeping; longer texts are parsed every time.
pub const MEMO_MAX_KEY_BYTES: usize = 2048;

/// Parsed values by the text they were parsed from.
#[derive(Debug)]
pub struct Memo<V> {
    entries: HashMap<Box<str>, V>,
}

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo {
            entries: HashMap::new(),
        }
    }
}

impl<V: Clone> Memo<V> {
    /// `parse(text)`, from the memo when `text` was parsed before. Errors
    /// are never kept (a failing text is parsed again, with its message).
    pub fn get_or_parse<E>(
        &mut self,
        text: &str,
        parse: impl FnOnce(&str) -> Result<V, E>,
    ) -> Result<V, E> {
        if let Some(value) = self.entries.get(text) {
            return Ok(value.clone());
        }
        let value = parse(text)?;
        if text.len() <= MEMO_MAX_KEY_BYTES {
            if self.entries.len() >= MEMO_ENTRIES {
                self.entries.clear();
            }
            self.entries.insert(text.into(), value.clone());
        }
        Ok(value)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Declares a thread-local [`Memo`] and a function that parses through it.
macro_rules! memoised {
    ($(#[$doc:meta])* fn $name:ident($text:ident: &str) -> Result<$value:ty, $err:ty> $body:block) => {
        $(#[$doc])*
        fn $name($text: &str) -> Result<$value, $err> {
            thread_local! {
                static MEMO: std::cell::RefCell<$crate::net::common::memo::Memo<$value>> =
                    std::cell::RefCell::new($crate::net::common::memo::Memo::default());
            }
            MEMO.with(|memo| memo.borrow_mut().get_or_parse($text, |$text| $body))
        }
    };
}
pub(crate) use memoised;

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_parsed_once_and_errors_are_not_kept() {
        let mut memo = Memo::default();
        let mut calls = 0;
        let mut parse = |text: &str| -> Result<usize, String> {
            calls += 1;
            text.parse::<usize>().map_err(|e| e.to_string())
        };
        assert_eq!(memo.get_or_parse("42", &mut parse), Ok(42));
        assert_eq!(memo.get_or_parse("42", &mut parse), Ok(42));
        assert!(memo.get_or_parse("x", &mut parse).is_err());
        assert!(memo.get_or_parse("x", &mut parse).is_err());
        assert_eq!(calls, 3, "42 parsed once, x twice");
        assert_eq!(memo.len(), 1);
    }

    #[test]
    fn the_memo_is_bounded_in_entries_and_key_length() {
        let mut memo = Memo::default();
        for n in 0..MEMO_ENTRIES * 3 {
            let _ = memo.get_or_parse(&n.to_string(), |t| t.parse::<usize>());
            assert!(memo.len() <= MEMO_ENTRIES);
        }
        let mut long = Memo::default();
        let key = "1".repeat(MEMO_MAX_KEY_BYTES + 1);
        assert!(long.get_or_parse(&key, |t| Ok::<_, ()>(t.len())).is_ok());
        assert!(long.is_empty(), "an over-long key is not kept");
    }
}
