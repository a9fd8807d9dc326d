//! The HTTP/1.1 layer on arbitrary bytes: `parse_request`, `parse_response` and the chunked
//! decoder. Input: `[knob]` + bytes. Knob bit 0 selects tight limits, bit 1 the HEAD rule for
//! responses, bits 2.. the piece size for feeding the chunked decoder.
//!
//! Besides "no panic" it checks: consumed ≤ input; a complete head is incomplete one byte
//! shorter and identical on exactly its own bytes; a parsed head re-serialises (in
//! origin-form) to a head that parses to the same fields and framing; the chunked decoder
//! gives the same data, end and error whether fed at once or in pieces.
#![no_main]

use bytes::{BufMut, BytesMut};
use libfuzzer_sys::fuzz_target;
use sallyport::proto::http1::{
    parse_request, parse_response, write_request_head, write_response_head, BodyKind,
    ChunkedDecoder, ChunkedItem, Header, Http1Error, Limits, Target,
};

/// Fields the serialisers derive themselves.
fn regular(headers: &[Header]) -> Vec<Header> {
    headers
        .iter()
        .filter(|(n, _)| !matches!(&n[..], b"host" | b"content-length" | b"transfer-encoding"))
        .cloned()
        .collect()
}

fn roomy() -> Limits {
    Limits {
        max_request_line: 1 << 20,
        max_head: 1 << 20,
        max_headers: 1 << 16,
    }
}

fn check_request(input: &[u8], limits: &Limits) {
    let Ok(Some((head, n))) = parse_request(input, limits) else {
        return;
    };
    assert!(n > 0 && n <= input.len(), "consumed {n} of {}", input.len());
    assert_eq!(parse_request(&input[..n - 1], limits), Ok(None), "prefix");
    assert_eq!(
        parse_request(&input[..n], limits),
        Ok(Some((head.clone(), n)))
    );
    assert_ne!(head.body, BodyKind::UntilClose);

    let Target::Absolute {
        authority,
        path_and_query,
        ..
    } = &head.target
    else {
        return;
    };
    let fields = regular(&head.headers);
    let mut out = BytesMut::new();
    let pairs = fields.iter().map(|(n, v)| (n, v));
    if let Err(e) = write_request_head(
        &head.method,
        path_and_query,
        authority,
        pairs,
        head.body,
        &mut out,
    ) {
        panic!("parsed request does not serialise: {e}");
    }
    let again = match parse_request(&out, &roomy()) {
        Ok(Some((h, m))) if m == out.len() => h,
        other => panic!("re-serialised request does not parse: {other:?}\n{:?}", out),
    };
    assert_eq!(again.method, head.method);
    assert_eq!(again.body, head.body);
    assert_eq!(regular(&again.headers), fields);
}

fn check_response(input: &[u8], limits: &Limits, head_request: bool) {
    let Ok(Some((head, n))) = parse_response(input, limits, head_request) else {
        return;
    };
    assert!(n > 0 && n <= input.len(), "consumed {n} of {}", input.len());
    assert_eq!(
        parse_response(&input[..n - 1], limits, head_request),
        Ok(None),
        "prefix"
    );
    assert_eq!(
        parse_response(&input[..n], limits, head_request),
        Ok(Some((head.clone(), n)))
    );
    if head.body == BodyKind::UntilClose {
        assert!(!head.keep_alive);
    }
    let fields = regular(&head.headers);
    let mut out = BytesMut::new();
    let pairs = fields.iter().map(|(n, v)| (n, v));
    if let Err(e) = write_response_head(head.status, &head.reason, pairs, head.body, &mut out) {
        panic!("parsed response does not serialise: {e}");
    }
    let again = match parse_response(&out, &roomy(), head_request) {
        Ok(Some((h, m))) if m == out.len() => h,
        other => panic!(
            "re-serialised response does not parse: {other:?}\n{:?}",
            out
        ),
    };
    assert_eq!(again.status, head.status);
    if !head.reason.is_empty() {
        assert_eq!(again.reason, head.reason);
    }
    if head.body != BodyKind::UntilClose {
        assert_eq!(regular(&again.headers), fields);
    }
}

type Outcome = (Vec<u8>, Option<Vec<Header>>, Option<Http1Error>, usize);

/// Feeds `input` to a fresh decoder `piece` bytes at a time.
fn decode(input: &[u8], piece: usize) -> Outcome {
    let mut dec = ChunkedDecoder::with_limits(64, 256);
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    let mut end = None;
    for part in input.chunks(piece) {
        buf.put_slice(part);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(ChunkedItem::Data(d))) => {
                    assert!(!d.is_empty(), "empty data item");
                    data.extend_from_slice(&d);
                }
                Ok(Some(ChunkedItem::End(t))) => {
                    assert!(end.is_none(), "second End");
                    end = Some(t);
                }
                Ok(None) => break,
                Err(e) => return (data, end, Some(e), buf.len()),
            }
        }
    }
    (data, end, None, buf.len())
}

fn check_chunked(input: &[u8], piece: usize) {
    let whole = decode(input, input.len().max(1));
    let split = decode(input, piece);
    // The leftover differs only while incomplete (whole keeps what pieces have not fed yet).
    assert_eq!(
        (&whole.0, &whole.1, &whole.2),
        (&split.0, &split.1, &split.2)
    );
    if whole.1.is_some() {
        assert_eq!(whole.3, split.3, "bytes after the body");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&knob, input)) = data.split_first() else {
        return;
    };
    let limits = if knob & 1 == 0 {
        Limits::default()
    } else {
        Limits {
            max_request_line: 64,
            max_head: 256,
            max_headers: 4,
        }
    };
    check_request(input, &limits);
    check_response(input, &limits, knob & 2 != 0);
    check_chunked(input, usize::from(knob >> 2) + 1);
});
