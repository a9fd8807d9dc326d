//! The chunked transfer coding (RFC 9112 §7.1), sans-IO and without copying data.
//!
//! Decoding is a small state machine fed from the caller's receive buffer: chunk data is
//! split off that buffer as [`Bytes`] (no copy), and only the short size lines and trailers
//! are examined byte by byte. Every line has a length cap and must end in CRLF, and sizes
//! longer than 16 hex digits are refused before any arithmetic, so a peer can neither make
//! us buffer without bound nor overflow the remaining-length counter.

use super::fields::parse_field_line;
use super::write::write_fields;
use super::{hop_by_hop, Header, Http1Error};
use bytes::{Buf, BufMut, BytesMut};
use std::fmt::Write as _;

/// Default cap on a chunk-size line, extensions included, CRLF excluded; also the cap on one
/// trailer line.
pub const DEFAULT_MAX_CHUNK_LINE: usize = 1024;
/// Default cap on the whole trailer section (all lines with their CRLFs).
pub const DEFAULT_MAX_TRAILER_BYTES: usize = 16 * 1024;

/// Trailer fields that are dropped instead of returned: framing, routing, credentials and
/// hop-by-hop fields have no business after the body (RFC 9110 §6.5.1), and a downstream that
/// merges trailers into the head must not be handed them.
const DROPPED_TRAILERS: &[&[u8]] = &[
    b"content-length",
    b"host",
    b"authorization",
    b"proxy-authorization",
];

/// What [`ChunkedDecoder::decode`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkedItem {
    /// Body bytes, split off the input buffer (never empty).
    Data(bytes::Bytes),
    /// The last chunk and the trailer section were read; the bytes after them belong to the
    /// next message. Carries the trailer fields (names lowercased), minus the framing,
    /// routing, credential and hop-by-hop ones, which are dropped.
    End(Vec<Header>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Expecting `chunk-size [chunk-ext] CRLF`.
    Size,
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataCrlf,
    /// After the last chunk, reading trailer lines until an empty one.
    Trailers,
    /// `End` was returned.
    Done,
    /// An error was returned; it is returned again on every call.
    Failed(Http1Error),
}

/// Decodes one chunked body.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    max_line: usize,
    max_trailer_bytes: usize,
    trailer_bytes: usize,
    trailers: Vec<Header>,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

impl ChunkedDecoder {
    /// A decoder with [`DEFAULT_MAX_CHUNK_LINE`] and [`DEFAULT_MAX_TRAILER_BYTES`].
    pub fn new() -> Self {
        ChunkedDecoder::with_limits(DEFAULT_MAX_CHUNK_LINE, DEFAULT_MAX_TRAILER_BYTES)
    }

    /// A decoder with explicit caps on one line and on the trailer section.
    pub fn with_limits(max_line: usize, max_trailer_bytes: usize) -> Self {
        ChunkedDecoder {
            state: State::Size,
            max_line,
            max_trailer_bytes,
            trailer_bytes: 0,
            trailers: Vec::new(),
        }
    }

    /// True once [`ChunkedItem::End`] has been returned.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes from the front of `buf` and returns the next item, or `Ok(None)` when `buf`
    /// holds nothing more to decode yet (everything usable was consumed: append more bytes
    /// and call again). After `End`, returns `Ok(None)` and leaves `buf` alone. An error is
    /// final (it is returned again on every later call); close the connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ChunkedItem>, Http1Error> {
        if let State::Failed(e) = &self.state {
            return Err(e.clone());
        }
        let out = self.step(buf);
        if let Err(e) = &out {
            self.state = State::Failed(e.clone());
        }
        out
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<ChunkedItem>, Http1Error> {
        loop {
            match self.state {
                State::Size => {
                    let Some(line) = take_line(buf, self.max_line)? else {
                        return Ok(None);
                    };
                    let size = parse_size_line(&line)?;
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
                    let data = buf.split_to(n).freeze();
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataCrlf
                    } else {
                        State::Data(left)
                    };
                    return Ok(Some(ChunkedItem::Data(data)));
                }
                State::DataCrlf => match &buf[..buf.len().min(2)] {
                    b"\r\n" => {
                        buf.advance(2);
                        self.state = State::Size;
                    }
                    [] | b"\r" => return Ok(None),
                    _ => return Err(Http1Error::MissingChunkCrlf),
                },
                State::Trailers => {
                    let Some(line) = take_line(buf, self.max_line)? else {
                        return Ok(None);
                    };
                    self.trailer_bytes += line.len() + 2;
                    if self.trailer_bytes > self.max_trailer_bytes {
                        return Err(Http1Error::TrailersTooLarge {
                            limit: self.max_trailer_bytes,
                        });
                    }
                    if line.is_empty() {
                        self.state = State::Done;
                        return Ok(Some(ChunkedItem::End(std::mem::take(&mut self.trailers))));
                    }
                    let (name, value) = parse_field_line(&line)?;
                    if !hop_by_hop(&name) && !DROPPED_TRAILERS.contains(&&name[..]) {
                        self.trailers.push((name, value));
                    }
                }
                State::Done | State::Failed(_) => return Ok(None),
            }
        }
    }
}

/// Splits one CRLF-terminated line of at most `max` bytes off `buf` and returns it without
/// the CRLF. The verdict never depends on how the bytes were split across calls.
fn take_line(buf: &mut BytesMut, max: usize) -> Result<Option<bytes::Bytes>, Http1Error> {
    let window = &buf[..buf.len().min(max.saturating_add(2))];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        if let Some(cr) = window.iter().position(|&b| b == b'\r') {
            if cr + 1 < window.len() {
                return Err(Http1Error::BareCr);
            }
        }
        if buf.len() >= max.saturating_add(2) {
            return Err(Http1Error::ChunkLineTooLong { limit: max });
        }
        return Ok(None);
    };
    if window[..lf].iter().rev().skip(1).any(|&b| b == b'\r') {
        return Err(Http1Error::BareCr);
    }
    if lf == 0 || window[lf - 1] != b'\r' {
        return Err(Http1Error::BareLf);
    }
    let mut line = buf.split_to(lf + 1).freeze();
    line.truncate(lf - 1);
    Ok(Some(line))
}

/// `chunk-size [ BWS ";" chunk-ext ]`: 1 to 16 hex digits; extensions are ignored but must
/// start with `;` and hold no control bytes. Whitespace after the size without a `;` is
/// refused: parsers disagree on it.
fn parse_size_line(line: &[u8]) -> Result<u64, Http1Error> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(Http1Error::InvalidChunkSize);
    }
    if digits > 16 {
        return Err(Http1Error::ChunkSizeOverflow);
    }
    let size = line[..digits].iter().fold(0u64, |n, &d| {
        // At most 16 digits: the shifts cannot overflow.
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d - b'A' + 10,
        };
        (n << 4) | u64::from(v)
    });
    let rest = &line[digits..];
    match rest.first() {
        None => return Ok(size),
        Some(b' ' | b'\t' | b';') => {}
        Some(_) => return Err(Http1Error::InvalidChunkSize),
    }
    let ws = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let ext = &rest[ws..];
    if !ext.starts_with(b";") || !ext.iter().all(|&b| super::is_value_byte(b)) {
        return Err(Http1Error::InvalidChunkExtension);
    }
    Ok(size)
}

/// Writes the size line of a chunk of `len` bytes; the data follows, then [`chunk_end`].
/// A zero `len` writes nothing (a zero-size chunk would end the body): skip the data and
/// the `chunk_end` too.
pub fn chunk_header(len: usize, dst: &mut BytesMut) {
    if len > 0 {
        let _ = write!(dst, "{len:x}\r\n");
    }
}

/// Writes the CRLF that follows chunk data.
pub fn chunk_end(dst: &mut BytesMut) {
    dst.put_slice(b"\r\n");
}

/// Writes the last chunk and an empty trailer section: the body is complete.
pub fn last_chunk(dst: &mut BytesMut) {
    dst.put_slice(b"0\r\n\r\n");
}

/// Writes the last chunk followed by trailer fields (e.g. HTTP/2 trailers), validated like
/// head fields; `content-length`, `transfer-encoding` and `host` are skipped. On error
/// nothing is written.
pub fn last_chunk_with_trailers<I, N, V>(trailers: I, dst: &mut BytesMut) -> Result<(), Http1Error>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let start = dst.len();
    dst.put_slice(b"0\r\n");
    let skip: &[&[u8]] = &[b"content-length", b"transfer-encoding", b"host"];
    if let Err(e) = write_fields(trailers, skip, dst) {
        dst.truncate(start);
        return Err(e);
    }
    dst.put_slice(b"\r\n");
    Ok(())
}
