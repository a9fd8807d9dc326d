//! Line structure of a head: where it ends, and whether every line ends in CRLF.
//!
//! This runs before any tokenising, so the rules that decide *where the message ends* are
//! ours alone: every LF must follow a CR, every CR must precede an LF, no line may start with
//! whitespace (obs-fold), and the limits are enforced before the end has been seen, so a
//! peer cannot make us buffer an unbounded head.

use super::{Http1Error, Limits};

/// Where the parts of a complete head are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Layout {
    /// Offset of the start line (after any empty lines skipped before a request).
    pub start: usize,
    /// Offset of the CRLF ending the start line.
    pub start_line_end: usize,
    /// Number of header field lines.
    pub header_count: usize,
    /// Offset just past the empty line that ends the head.
    pub end: usize,
}

/// Finds the end of the head at the front of `buf`.
///
/// `Ok(None)`: no complete head yet and nothing wrong so far. Leading empty lines are skipped
/// when `skip_empty_lines` (RFC 9112 §2.2 lets a server ignore CRLFs before a request line;
/// some clients send one after a POST body).
pub(super) fn scan_head(
    buf: &[u8],
    limits: &Limits,
    skip_empty_lines: bool,
) -> Result<Option<Layout>, Http1Error> {
    // Bytes past `max_head` can never belong to an acceptable head: do not even look at them.
    let window = &buf[..buf.len().min(limits.max_head)];
    let mut start = 0;
    if skip_empty_lines {
        while window[start..].starts_with(b"\r\n") {
            start += 2;
        }
        match window.get(start..start + 2) {
            Some([b'\n', _]) => return Err(Http1Error::BareLf),
            Some([b'\r', _]) => return Err(Http1Error::BareCr),
            _ if window.get(start) == Some(&b'\n') => return Err(Http1Error::BareLf),
            _ => {}
        }
    }

    let mut pos = start;
    let mut start_line_end = None;
    let mut header_count = 0usize;
    loop {
        let rest = &window[pos..];
        let Some(off) = rest.iter().position(|&b| b == b'\n') else {
            return incomplete(buf, rest, start_line_end.is_none(), limits);
        };
        let lf = pos + off;
        // A CR inside the line is reported before a missing one at its end, so the verdict
        // does not depend on whether the LF had arrived yet (see `incomplete`).
        let before_lf = &window[pos..lf];
        if before_lf.iter().rev().skip(1).any(|&b| b == b'\r') {
            return Err(Http1Error::BareCr);
        }
        if before_lf.last() != Some(&b'\r') {
            return Err(Http1Error::BareLf);
        }
        let line = &window[pos..lf - 1];
        if start_line_end.is_none() {
            if line.len() > limits.max_request_line {
                return Err(Http1Error::RequestLineTooLong {
                    limit: limits.max_request_line,
                });
            }
            start_line_end = Some(lf - 1);
        } else if line.is_empty() {
            return Ok(Some(Layout {
                start,
                start_line_end: start_line_end.unwrap_or(start),
                header_count,
                end: lf + 1,
            }));
        } else {
            if matches!(line[0], b' ' | b'\t') {
                return Err(Http1Error::ObsFold);
            }
            header_count += 1;
            if header_count > limits.max_headers {
                return Err(Http1Error::TooManyHeaders {
                    limit: limits.max_headers,
                });
            }
        }
        pos = lf + 1;
    }
}

/// The verdict on a head whose last line `partial` has no LF yet.
fn incomplete(
    buf: &[u8],
    partial: &[u8],
    is_start_line: bool,
    limits: &Limits,
) -> Result<Option<Layout>, Http1Error> {
    // Only the very last byte may be a CR still waiting for its LF.
    if let Some(cr) = partial.iter().position(|&b| b == b'\r') {
        if cr + 1 < partial.len() {
            return Err(Http1Error::BareCr);
        }
    }
    let content = partial.len() - usize::from(partial.last() == Some(&b'\r'));
    if is_start_line && content > limits.max_request_line {
        return Err(Http1Error::RequestLineTooLong {
            limit: limits.max_request_line,
        });
    }
    if !is_start_line && matches!(partial.first(), Some(b' ' | b'\t')) {
        return Err(Http1Error::ObsFold);
    }
    // The head would end past `max_head` at the earliest.
    if buf.len() >= limits.max_head {
        return Err(Http1Error::HeadTooLarge {
            limit: limits.max_head,
        });
    }
    Ok(None)
}
