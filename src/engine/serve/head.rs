//! The request heads on one connection, followed byte by byte as they arrive, so that a head
//! HTTP's parser would refuse with an empty answer is refused here first, in the API's JSON
//! error shape.
//!
//! hyper answers a request target over 64 KiB (414), a head over its ~400 KiB buffer or with
//! more than 100 fields (431) and a malformed head (400) itself, with no body. The scanner
//! refuses the same heads a little earlier (past [`MAX_WIRE_TARGET_BYTES`] or
//! [`MAX_WIRE_HEAD_BYTES`], more than [`MAX_HEADER_FIELDS`] fields, or what `httparse` — hyper's
//! own parser — rejects) so the connection can answer them in words. Heads under those limits
//! reach the pipeline, where the WAF stage applies its tighter limits (8 KiB target, 64 KiB of
//! headers) with a trace a learner can read.
//!
//! To find where the next head starts, the scanner skips each body by its `Content-Length`
//! (an invalid or conflicting length is refused, as hyper would refuse it). A body it cannot
//! measure without decoding (chunked, an upgrade) makes it step aside for the rest of the
//! connection; hyper's own limits still hold there.

use std::time::Duration;

use axum::http::{StatusCode, Uri};

use crate::engine::pipeline::error::ApiError;

/// The longest request target the connection reads before refusing (414); hyper's hard limit
/// is 65 534 bytes.
pub const MAX_WIRE_TARGET_BYTES: usize = 32 * 1024;
/// The largest request head (request line and header fields) the connection reads before
/// refusing (431); hyper's buffer holds about 400 KiB.
pub const MAX_WIRE_HEAD_BYTES: usize = 256 * 1024;
/// The most header fields one request may carry (hyper's limit; more → 431).
pub const MAX_HEADER_FIELDS: usize = 100;

/// Why the connection refuses a request before the pipeline sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request target is longer than [`MAX_WIRE_TARGET_BYTES`].
    TargetTooLong,
    /// The head is larger than [`MAX_WIRE_HEAD_BYTES`].
    HeadTooLarge,
    /// The head has more than [`MAX_HEADER_FIELDS`] header fields.
    TooManyFields,
    /// The head is not valid HTTP/1.1; the parser's words for what is wrong.
    Malformed(String),
    /// The head did not arrive whole in time (the time allowed).
    TooSlow(Duration),
    /// The client went silent in the middle of a head (the silence allowed).
    Silent(Duration),
}

impl Refusal {
    /// The JSON error this refusal answers with.
    pub fn error(&self) -> ApiError {
        match self {
            Self::TargetTooLong => ApiError::new(
                StatusCode::URI_TOO_LONG,
                "uri_too_long",
                format!(
                    "the request target is longer than {MAX_WIRE_TARGET_BYTES} bytes, more \
                     than the server reads"
                ),
            ),
            Self::HeadTooLarge => ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                format!(
                    "the request head is larger than {MAX_WIRE_HEAD_BYTES} bytes, more than \
                     the server reads"
                ),
            ),
            Self::TooManyFields => ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "too_many_headers",
                format!("the request has more than {MAX_HEADER_FIELDS} header fields"),
            ),
            Self::Malformed(what) => ApiError::bad_request(
                "malformed_request",
                format!("the request is not valid HTTP/1.1: {what}"),
            ),
            Self::TooSlow(allowed) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request head did not arrive within {}",
                    seconds(*allowed)
                ),
            ),
            Self::Silent(allowed) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the client sent nothing for {} in the middle of a request head",
                    seconds(*allowed)
                ),
            ),
        }
    }

    /// The whole HTTP/1.1 response, ready to write: the JSON error, and `Connection: close`
    /// because the rest of what the client sends is not read.
    pub fn response(&self) -> Vec<u8> {
        let error = self.error();
        let body = error.body().to_string();
        let status = error.status;
        let mut response = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len()
        )
        .into_bytes();
        response.extend_from_slice(body.as_bytes());
        response
    }
}

/// `10 s`, or `0.5 s` for a time under a whole second's precision.
fn seconds(time: Duration) -> String {
    if time.subsec_millis() == 0 {
        format!("{} s", time.as_secs())
    } else {
        format!("{:.1} s", time.as_secs_f64())
    }
}

/// Where the connection is in its stream of requests.
#[derive(Debug)]
enum Phase {
    /// Reading a head; the bytes so far are in [`HeadScanner::head`].
    Head,
    /// Inside a body of known length: the bytes still to come.
    Body(u64),
    /// Framing the scanner does not follow; everything passes from here on.
    Aside,
}

/// Follows the request heads on one connection; see the module comment.
#[derive(Debug)]
pub struct HeadScanner {
    phase: Phase,
    /// The current head's bytes (kept between requests to reuse the allocation).
    head: Vec<u8>,
    /// Heads read whole so far.
    heads_read: u64,
}

impl Default for HeadScanner {
    fn default() -> Self {
        Self {
            phase: Phase::Head,
            head: Vec::new(),
            heads_read: 0,
        }
    }
}

impl HeadScanner {
    /// Whether a head has begun and not yet ended: the time the header-read deadline runs.
    pub fn reading_head(&self) -> bool {
        matches!(self.phase, Phase::Head) && !self.head.is_empty()
    }

    /// How many heads have been read whole: a new head began if this moved while a head is
    /// being read.
    pub fn heads_read(&self) -> u64 {
        self.heads_read
    }

    /// Follows `bytes`, the next ones the client sent; an error is the refusal to answer with
    /// (the connection reads no further).
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Refusal> {
        while !bytes.is_empty() {
            match self.phase {
                Phase::Aside => return Ok(()),
                Phase::Body(remaining) => {
                    let skipped = remaining.min(bytes.len() as u64);
                    bytes = &bytes[skipped as usize..];
                    self.phase = match remaining - skipped {
                        0 => Phase::Head,
                        left => Phase::Body(left),
                    };
                }
                Phase::Head => bytes = self.feed_head(bytes)?,
            }
        }
        Ok(())
    }

    /// Adds bytes to the current head; returns those that follow it, if it ended.
    fn feed_head<'a>(&mut self, mut bytes: &'a [u8]) -> Result<&'a [u8], Refusal> {
        if self.head.is_empty() {
            // Blank lines before a request line are ignored (RFC 9112 §2.2).
            let blank = bytes
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            bytes = &bytes[blank..];
            if bytes.is_empty() {
                return Ok(bytes);
            }
        }
        // The blank line ending the head may straddle the previous read.
        let search_from = self.head.len().saturating_sub(2);
        let room = MAX_WIRE_HEAD_BYTES + 1 - self.head.len();
        let taken = bytes.len().min(room);
        self.head.extend_from_slice(&bytes[..taken]);
        let Some(end) = end_of_head(&self.head, search_from) else {
            if target_so_far(&self.head) > MAX_WIRE_TARGET_BYTES {
                return Err(Refusal::TargetTooLong);
            }
            if self.head.len() > MAX_WIRE_HEAD_BYTES {
                return Err(Refusal::HeadTooLarge);
            }
            return Ok(&bytes[taken..]);
        };
        let after_head = self.head.len() - end;
        self.phase = framing(&self.head[..end])?;
        self.head.clear();
        self.heads_read += 1;
        Ok(&bytes[taken - after_head..])
    }
}

/// The index just past the blank line that ends a head (`\n\r\n` or a bare `\n\n`), looking
/// from `from`.
fn end_of_head(head: &[u8], from: usize) -> Option<usize> {
    (from..head.len()).find_map(|i| match head[i..] {
        [b'\n', b'\n', ..] => Some(i + 2),
        [b'\n', b'\r', b'\n', ..] => Some(i + 3),
        _ => None,
    })
}

/// How long the request target is so far: the bytes after the request line's first space, up to
/// the next space or the line's end.
fn target_so_far(head: &[u8]) -> usize {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let Some(start) = line.iter().position(|b| *b == b' ') else {
        return 0;
    };
    line[start + 1..]
        .iter()
        .take_while(|b| !matches!(b, b' ' | b'\r'))
        .count()
}

/// Parses a complete head as hyper will, and says how its body is framed.
fn framing(head: &[u8]) -> Result<Phase, Refusal> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADER_FIELDS];
    let mut request = httparse::Request::new(&mut fields);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        // The head ends in a blank line, so the parser has all of it; step aside rather than
        // guess.
        Ok(httparse::Status::Partial) => return Ok(Phase::Aside),
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::TooManyFields),
        Err(error) => return Err(Refusal::Malformed(error.to_string())),
    }
    let target = request.path.unwrap_or_default();
    if target.len() > MAX_WIRE_TARGET_BYTES {
        return Err(Refusal::TargetTooLong);
    }
    // hyper turns the target into a `Uri`, which refuses some bytes the parser accepts.
    if Uri::try_from(target).is_err() {
        return Err(Refusal::Malformed("invalid request target".into()));
    }
    if request.method == Some("CONNECT") {
        return Ok(Phase::Aside);
    }
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for field in request.headers.iter() {
        if field.name.eq_ignore_ascii_case("upgrade") {
            return Ok(Phase::Aside);
        }
        if field.name.eq_ignore_ascii_case("transfer-encoding") {
            // hyper refuses a request whose last coding is not `chunked` (its length would be
            // unknowable); so does the connection, in words.
            let last = field
                .value
                .rsplit(|b| *b == b',')
                .next()
                .unwrap_or_default();
            if !last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(Refusal::Malformed(
                    "the last Transfer-Encoding is not chunked".into(),
                ));
            }
            chunked = true;
        }
        if field.name.eq_ignore_ascii_case("content-length") {
            // `5` or a list of one repeated value (`5, 5`); digits only, so no sign or space.
            for value in field.value.split(|b| *b == b',') {
                let value = value.trim_ascii();
                let parsed = (!value.is_empty() && value.iter().all(u8::is_ascii_digit))
                    .then(|| std::str::from_utf8(value).ok()?.parse::<u64>().ok())
                    .flatten()
                    .ok_or_else(|| Refusal::Malformed("invalid Content-Length".into()))?;
                if length.is_some_and(|seen| seen != parsed) {
                    return Err(Refusal::Malformed(
                        "conflicting Content-Length headers".into(),
                    ));
                }
                length = Some(parsed);
            }
        }
    }
    // A chunked body's end is found by decoding it: hyper's to follow (it reads chunked over any
    // Content-Length, RFC 9112 §6.3).
    if chunked {
        return Ok(Phase::Aside);
    }
    Ok(match length {
        None | Some(0) => Phase::Head,
        Some(bytes) => Phase::Body(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(scanner: &mut HeadScanner, text: &[u8], chunk: usize) -> Result<(), Refusal> {
        text.chunks(chunk).try_for_each(|part| scanner.feed(part))
    }

    #[test]
    fn keep_alive_requests_with_bodies_pass_whatever_the_read_sizes() {
        // A body holding blank lines, which must be skipped as body, not taken for a head's end.
        let body = "{\"a\":\"\r\n\r\n\"}";
        let stream = format!(
            "POST /api/v1/projects HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{body}\
             GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\nGET /x HTTP/1.1\n\n",
            body.len()
        );
        let stream = stream.as_bytes();
        for chunk in [1, 2, 3, 7, stream.len()] {
            let mut scanner = HeadScanner::default();
            assert_eq!(fed(&mut scanner, stream, chunk), Ok(()), "chunk {chunk}");
            assert_eq!(scanner.heads_read(), 3, "chunk {chunk}");
            assert!(matches!(scanner.phase, Phase::Head), "chunk {chunk}");
            assert!(!scanner.reading_head(), "chunk {chunk}");
        }
    }

    #[test]
    fn a_head_in_progress_is_seen_and_ends_with_its_blank_line() {
        let mut scanner = HeadScanner::default();
        scanner
            .feed(b"GET / HTTP/1.1\r\nHost: a\r\n")
            .expect("passes");
        assert!(scanner.reading_head());
        scanner.feed(b"\r\n").expect("passes");
        assert!(!scanner.reading_head());
    }

    #[test]
    fn a_long_target_is_refused_before_its_end_arrives() {
        let mut scanner = HeadScanner::default();
        scanner.feed(b"GET /").expect("passes");
        let path = vec![b'a'; MAX_WIRE_TARGET_BYTES];
        assert_eq!(fed(&mut scanner, &path, 1024), Err(Refusal::TargetTooLong));
        // A target just under the limit is the WAF's to judge.
        let mut scanner = HeadScanner::default();
        let mut head = b"GET /".to_vec();
        head.extend(vec![b'a'; MAX_WIRE_TARGET_BYTES - 1]);
        head.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(fed(&mut scanner, &head, 4096), Ok(()));
    }

    #[test]
    fn a_huge_header_or_too_many_fields_is_refused() {
        let mut scanner = HeadScanner::default();
        scanner.feed(b"GET / HTTP/1.1\r\nX-Big: ").expect("passes");
        let value = vec![b'v'; 1024 * 1024];
        assert_eq!(fed(&mut scanner, &value, 8192), Err(Refusal::HeadTooLarge));

        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADER_FIELDS {
            head.extend(format!("X-{i}: {i}\r\n").bytes());
        }
        head.extend_from_slice(b"\r\n");
        assert_eq!(
            HeadScanner::default().feed(&head),
            Err(Refusal::TooManyFields)
        );
    }

    #[test]
    fn malformed_heads_are_refused_in_the_parsers_words() {
        for head in [
            &b"GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n"[..],
            b"GET / HTTP/9.9\r\n\r\n",
            b"GE T / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        ] {
            let refusal = HeadScanner::default().feed(head).expect_err("refused");
            let Refusal::Malformed(what) = &refusal else {
                panic!("{refusal:?}")
            };
            assert!(what.starts_with("invalid"), "{what}");
            assert_eq!(refusal.error().status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn ambiguous_framing_is_refused_as_hyper_would() {
        for (framing, words) in [
            ("Content-Length: -1", "invalid Content-Length"),
            ("Content-Length: +2", "invalid Content-Length"),
            (
                "Content-Length: 5\r\nContent-Length: 40",
                "conflicting Content-Length headers",
            ),
            ("Content-Length: 5, 6", "conflicting Content-Length headers"),
            (
                "Transfer-Encoding: xchunked",
                "the last Transfer-Encoding is not chunked",
            ),
            (
                "Transfer-Encoding: chunked, identity",
                "the last Transfer-Encoding is not chunked",
            ),
        ] {
            let head = format!("POST / HTTP/1.1\r\nHost: a\r\n{framing}\r\n\r\n");
            let refusal = HeadScanner::default().feed(head.as_bytes());
            assert_eq!(refusal, Err(Refusal::Malformed(words.into())), "{framing}");
        }
        // One length repeated is one length.
        let mut scanner = HeadScanner::default();
        let head = "POST / HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(scanner.feed(head.as_bytes()), Ok(()));
        assert!(matches!(scanner.phase, Phase::Head));
    }

    #[test]
    fn chunked_bodies_make_it_step_aside() {
        let mut scanner = HeadScanner::default();
        let stream =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        scanner.feed(stream).expect("passes");
        // Whatever follows is hyper's to judge.
        scanner
            .feed(&vec![b'x'; 2 * MAX_WIRE_HEAD_BYTES])
            .expect("passes");
        assert!(!scanner.reading_head());
    }

    #[test]
    fn the_refusal_is_a_complete_json_response() {
        let response = Refusal::TooSlow(Duration::from_millis(600)).response();
        let text = String::from_utf8(response).expect("text");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(
            head.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let json: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(json["error"]["code"], "request_timeout");
        assert_eq!(json["error"]["status"], 408);
        assert_eq!(
            json["error"]["message"],
            "the request head did not arrive within 0.6 s"
        );
    }
}
