//! The `text/event-stream` parser behind `sandnet:net/sse`: pure and I/O-free,
//! following the WHATWG HTML "event stream interpretation" rules.
//!
//! Bytes go in as they arrive ([`Parser::feed`], any chunking); dispatched
//! [`Event`]s come out. Lines end in CR, LF or CRLF (a CR at the end of one
//! chunk and an LF at the start of the next are one line end); a leading BOM is
//! dropped; `event`, `data` (joined by `\n`), `id` (ignored when it holds NUL)
//! and `retry` (ASCII digits only) are the fields; lines starting with `:` are
//! comments; a line without a colon is a field with an empty value; one space
//! after the colon is stripped; a blank line dispatches; an event without data
//! is not dispatched. Event size is capped ([`Parser::new`]).

use std::time::Duration;

/// Bytes a line may hold beyond the event cap (room for the field name).
pub const LINE_SLACK_BYTES: usize = 64;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event` field, or `message` when absent or empty.
    pub event_type: String,
    /// The `data` lines joined by `\n`.
    pub data: String,
    /// The stream's last event id at dispatch; `None` when empty.
    pub id: Option<String>,
}

/// An event (or a single line) grew past the cap given to [`Parser::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event larger than {max} bytes")]
pub struct EventTooLarge {
    /// The cap in bytes.
    pub max: usize,
}

/// Incremental `text/event-stream` parser for one event source.
///
/// The last event id and the reconnection time survive
/// [`Parser::reset_connection`], as the spec asks; everything else is per
/// connection.
#[derive(Debug, Clone)]
pub struct Parser {
    max_event: usize,
    line: Vec<u8>,
    /// The previous chunk ended in CR: a leading LF in the next one is part of it.
    pending_cr: bool,
    /// No line completed yet on this connection (BOM check pending).
    first_line: bool,
    event_type: String,
    data: String,
    last_id: String,
    retry: Option<Duration>,
}

impl Parser {
    /// A parser refusing events whose data exceeds `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        Parser {
            max_event: max_event_bytes,
            line: Vec::new(),
            pending_cr: false,
            first_line: true,
            event_type: String::new(),
            data: String::new(),
            last_id: String::new(),
            retry: None,
        }
    }

    /// The last event id (sent as `Last-Event-ID` on reconnect), if not empty.
    pub fn last_event_id(&self) -> Option<&str> {
        (!self.last_id.is_empty()).then_some(self.last_id.as_str())
    }

    /// The reconnection time the stream asked for with `retry`, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Forgets the partial line and event of a connection that ended (an event
    /// not terminated by a blank line is never dispatched).
    pub fn reset_connection(&mut self) {
        self.line.clear();
        self.pending_cr = false;
        self.first_line = true;
        self.event_type.clear();
        self.data.clear();
    }

    /// Parses `chunk`, appending every event it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Event>) -> Result<(), EventTooLarge> {
        let mut rest = chunk;
        if self.pending_cr && !rest.is_empty() {
            self.pending_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while !rest.is_empty() {
            match rest.iter().position(|&b| b == b'\r' || b == b'\n') {
                None => {
                    self.push_line_bytes(rest)?;
                    break;
                }
                Some(end) => {
                    self.push_line_bytes(&rest[..end])?;
                    let is_cr = rest[end] == b'\r';
                    rest = &rest[end + 1..];
                    if is_cr {
                        match rest.first() {
                            Some(b'\n') => rest = &rest[1..],
                            Some(_) => {}
                            None => self.pending_cr = true,
                        }
                    }
                    let line = std::mem::take(&mut self.line);
                    self.process_line(&line, out)?;
                    self.line = line;
                    self.line.clear();
                }
            }
        }
        Ok(())
    }

    fn push_line_bytes(&mut self, bytes: &[u8]) -> Result<(), EventTooLarge> {
        if self.line.len() + bytes.len() > self.max_event.saturating_add(LINE_SLACK_BYTES) {
            return Err(EventTooLarge {
                max: self.max_event,
            });
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), EventTooLarge> {
        let mut line = line;
        if self.first_line {
            self.first_line = false;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(()); // comment
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"event" => self.event_type = value.into_owned(),
            b"data" => {
                if self.data.len() + value.len() + 1 > self.max_event {
                    return Err(EventTooLarge {
                        max: self.max_event,
                    });
                }
                self.data.push_str(&value);
                self.data.push('\n');
            }
            // An id holding NUL is ignored.
            b"id" if !value.contains('\0') => self.last_id = value.into_owned(),
            b"retry" => {
                if !value.is_empty()
                    && value.bytes().all(|b| b.is_ascii_digit())
                    && let Ok(ms) = value.parse::<u64>()
                {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {} // unknown fields are ignored
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<Event>) {
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        let event_type = match std::mem::take(&mut self.event_type) {
            t if t.is_empty() => "message".to_owned(),
            t => t,
        };
        out.push(Event {
            event_type,
            data,
            id: self.last_event_id().map(str::to_owned),
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn ev(event_type: &str, data: &str, id: Option<&str>) -> Event {
        Event {
            event_type: event_type.to_owned(),
            data: data.to_owned(),
            id: id.map(str::to_owned),
        }
    }

    /// Parses `chunks` in order with a 1 KiB cap.
    fn parse_chunks(chunks: &[&[u8]]) -> (Vec<Event>, Parser) {
        let mut parser = Parser::new(1024);
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out).unwrap();
        }
        (out, parser)
    }

    fn parse(input: &str) -> Vec<Event> {
        parse_chunks(&[input.as_bytes()]).0
    }

    #[test]
    fn line_by_line_cases() {
        let cases: &[(&str, &str, Vec<Event>)] = &[
            (
                "plain data",
                "data: hi\n\n",
                vec![ev("message", "hi", None)],
            ),
            (
                "event type",
                "event: tick\ndata: 1\n\n",
                vec![ev("tick", "1", None)],
            ),
            (
                "multi-line data joined by LF",
                "data: a\ndata: b\ndata:\n\n",
                vec![ev("message", "a\nb\n", None)],
            ),
            (
                "only one leading space stripped",
                "data:  two\n\n",
                vec![ev("message", " two", None)],
            ),
            (
                "no space after colon",
                "data:x\n\n",
                vec![ev("message", "x", None)],
            ),
            (
                "colon in value kept",
                "data: a: b\n\n",
                vec![ev("message", "a: b", None)],
            ),
            (
                "field without colon is an empty value",
                "data\ndata\n\n",
                vec![ev("message", "\n", None)],
            ),
            ("comment ignored", ": hello\n\n", vec![]),
            (
                "comment between fields",
                "data: a\n: note\ndata: b\n\n",
                vec![ev("message", "a\nb", None)],
            ),
            ("empty data not dispatched", "event: x\n\n", vec![]),
            (
                "event type reset after empty dispatch",
                "event: x\n\ndata: y\n\n",
                vec![ev("message", "y", None)],
            ),
            (
                "id attached and persists",
                "id: 7\ndata: a\n\ndata: b\n\n",
                vec![ev("message", "a", Some("7")), ev("message", "b", Some("7"))],
            ),
            (
                "empty id resets",
                "id: 7\ndata: a\n\nid\ndata: b\n\n",
                vec![ev("message", "a", Some("7")), ev("message", "b", None)],
            ),
            (
                "id with NUL ignored",
                "id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n",
                vec![ev("message", "a", Some("1")), ev("message", "b", Some("1"))],
            ),
            (
                "id without data updates the id, no event",
                "id: 9\n\ndata: a\n\n",
                vec![ev("message", "a", Some("9"))],
            ),
            (
                "unknown field ignored",
                "foo: bar\ndata: a\n\n",
                vec![ev("message", "a", None)],
            ),
            ("field names are case-sensitive", "Data: a\n\n", vec![]),
            (
                "CRLF line ends",
                "event: t\r\ndata: a\r\n\r\n",
                vec![ev("t", "a", None)],
            ),
            (
                "CR line ends",
                "data: a\rdata: b\r\r",
                vec![ev("message", "a\nb", None)],
            ),
            (
                "mixed line ends",
                "data: a\r\ndata: b\rdata: c\n\n",
                vec![ev("message", "a\nb\nc", None)],
            ),
            (
                "BOM at start dropped",
                "\u{feff}data: a\n\n",
                vec![ev("message", "a", None)],
            ),
            ("second BOM is data", "\u{feff}\u{feff}data: a\n\n", vec![]),
            (
                "unterminated event not dispatched",
                "data: a\n\ndata: b\n",
                vec![ev("message", "a", None)],
            ),
            (
                "empty event type means message",
                "event:\ndata: a\n\n",
                vec![ev("message", "a", None)],
            ),
            (
                "two events",
                "data: 1\n\nevent: e\ndata: 2\n\n",
                vec![ev("message", "1", None), ev("e", "2", None)],
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(&parse(input), want, "{name}: {input:?}");
        }
    }

    #[test]
    fn retry_accepts_digits_only() {
        let cases: &[(&str, Option<u64>)] = &[
            ("retry: 1500\n", Some(1500)),
            ("retry:0\n", Some(0)),
            ("retry: 15x\n", None),
            ("retry: -5\n", None),
            ("retry: 1.5\n", None),
            ("retry:\n", None),
            ("retry:  100\n", None), // the second space is part of the value
            ("retry: 99999999999999999999999\n", None),
        ];
        for (input, want) in cases {
            let (_, parser) = parse_chunks(&[input.as_bytes()]);
            assert_eq!(parser.retry(), want.map(Duration::from_millis), "{input:?}");
        }
        let (_, parser) = parse_chunks(&[b"retry: 100\nretry: bad\n"]);
        assert_eq!(
            parser.retry(),
            Some(Duration::from_millis(100)),
            "an invalid retry keeps the previous one"
        );
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let input =
            "\u{feff}event: a\r\ndata: x\r\ndata: y\r\rid: 3\ndata: é\n\n:c\r\ndata: z\r\n\r\n";
        let (want, _) = parse_chunks(&[input.as_bytes()]);
        assert_eq!(
            want,
            vec![
                ev("a", "x\ny", None),
                ev("message", "é", Some("3")),
                ev("message", "z", Some("3")),
            ]
        );
        let bytes = input.as_bytes();
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let (got, _) = parse_chunks(&[&bytes[..i], &bytes[i..j], &bytes[j..]]);
                assert_eq!(got, want, "split at {i} and {j}");
            }
        }
    }

    #[test]
    fn cr_at_chunk_boundary_then_lf_is_one_line_end() {
        let (got, _) = parse_chunks(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
        assert_eq!(got, vec![ev("message", "a\nb", None)]);
        // CR at the end, then a non-LF: two separate line ends.
        let (got, _) = parse_chunks(&[b"data: a\r", b"\r"]);
        assert_eq!(got, vec![ev("message", "a", None)]);
        // An empty chunk between CR and LF does not break the pair.
        let (got, _) = parse_chunks(&[b"data: a\r", b"", b"\n\n"]);
        assert_eq!(got, vec![ev("message", "a", None)]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let (got, _) = parse_chunks(&[b"data: a\xffb\n\n"]);
        assert_eq!(got, vec![ev("message", "a\u{fffd}b", None)]);
    }

    #[test]
    fn event_size_cap() {
        let mut parser = Parser::new(8);
        let mut out = Vec::new();
        parser.feed(b"data: 1234567\n\n", &mut out).unwrap();
        assert_eq!(out, vec![ev("message", "1234567", None)]);
        let err = parser
            .feed(b"data: 1234\ndata: 5678\n", &mut out)
            .unwrap_err();
        assert_eq!(err, EventTooLarge { max: 8 });
        // A line that never ends is refused too, without buffering it all.
        let mut parser = Parser::new(8);
        let long = vec![b'x'; 8 + LINE_SLACK_BYTES + 1];
        assert!(parser.feed(&long, &mut out).is_err());
    }

    #[test]
    fn reset_connection_keeps_id_and_retry_only() {
        let mut parser = Parser::new(1024);
        let mut out = Vec::new();
        parser
            .feed(
                b"id: 5\nretry: 250\ndata: a\n\nevent: half\ndata: gone",
                &mut out,
            )
            .unwrap();
        parser.reset_connection();
        parser.feed(b"\xEF\xBB\xBFdata: b\n\n", &mut out).unwrap();
        assert_eq!(
            out,
            vec![ev("message", "a", Some("5")), ev("message", "b", Some("5"))]
        );
        assert_eq!(parser.last_event_id(), Some("5"));
        assert_eq!(parser.retry(), Some(Duration::from_millis(250)));
    }
}

/// Properties over arbitrary input (more cases: `PROPTEST_CASES=100000 cargo
/// test --release -p sandnet --lib props`).
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    /// Bytes biased toward the stream's syntax, so lines, fields and dispatches occur.
    fn stream() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"data: x\n".to_vec()),
            Just(b"data\n".to_vec()),
            Just(b"event: e\n".to_vec()),
            Just(b"id: 7\n".to_vec()),
            Just(b"id: a\0b\n".to_vec()),
            Just(b"retry: 12\n".to_vec()),
            Just(b": comment\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(BOM.to_vec()),
            proptest::collection::vec(any::<u8>(), 0..40),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    fn parse_in_pieces(bytes: &[u8], cuts: &[usize], max: usize) -> (Vec<Event>, bool) {
        let mut parser = Parser::new(max);
        let mut out = Vec::new();
        let mut start = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        points.push(bytes.len());
        for end in points {
            if end < start {
                continue;
            }
            if parser.feed(&bytes[start..end], &mut out).is_err() {
                return (out, true);
            }
            start = end;
        }
        (out, false)
    }

    proptest! {
        /// Where the network splits the stream never changes the events.
        #[test]
        fn chunking_never_changes_the_events(bytes in stream(), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
            let whole = parse_in_pieces(&bytes, &[], 1 << 20);
            let split = parse_in_pieces(&bytes, &cuts, 1 << 20);
            prop_assert_eq!(whole, split);
        }

        /// No event handed out is larger than the cap, whatever the input.
        #[test]
        fn events_never_exceed_the_cap(bytes in stream(), max in 1usize..64) {
            let (events, _too_large) = parse_in_pieces(&bytes, &[], max);
            for event in events {
                prop_assert!(event.data.len() <= max, "{} > {max}", event.data.len());
            }
        }

        /// An id with NUL is ignored (WHATWG), so Last-Event-ID never carries one.
        #[test]
        fn last_event_id_never_holds_nul_or_newlines(bytes in stream()) {
            let mut parser = Parser::new(1 << 20);
            let mut out = Vec::new();
            let _ = parser.feed(&bytes, &mut out);
            if let Some(id) = parser.last_event_id() {
                prop_assert!(!id.contains(['\0', '\n', '\r']), "{id:?}");
            }
        }
    }
}
