//! Properties: serialise → parse round trips, no panic on any input, chunked identity.

use super::*;
use bytes::{BufMut, BytesMut};
use proptest::prelude::*;

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Get),
        Just(Method::Head),
        Just(Method::Post),
        Just(Method::Put),
        Just(Method::Delete),
        Just(Method::Options),
        Just(Method::Patch),
        "[A-Z][A-Z_-]{0,9}".prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap()),
    ]
    .prop_filter("CONNECT takes host:port", |m| *m != Method::Connect)
}

fn host() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        "[a-zA-Z0-9][a-zA-Z0-9_-]{0,10}(\\.[a-z0-9][a-z0-9-]{0,10}){0,3}",
        (0u8..=255, 0u8..=255, 0u8..=255, 0u8..=255)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        Just("[::1]".to_string()),
        "[0-9a-f]{1,4}".prop_map(|h| format!("[2001:db8::{h}]")),
    ];
    (name, proptest::option::of(1u16..=65535)).prop_map(|(n, p)| match p {
        Some(p) => format!("{n}:{p}"),
        None => n,
    })
}

fn path() -> impl Strategy<Value = String> {
    "/[a-zA-Z0-9._~%/!$&'()*+,;=:@-]{0,30}(\\?[a-zA-Z0-9=&%/?-]{0,20})?"
}

/// End-to-end fields that carry no framing meaning (`x-` names), values without
/// surrounding whitespace (the parser trims it).
fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let value = prop_oneof![Just(String::new()), "[!-~]([ -~\t]{0,20}[!-~])?"];
    prop::collection::vec(("[xX]-[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,12}", value), 0..8)
}

fn body() -> impl Strategy<Value = BodyKind> {
    prop_oneof![
        Just(BodyKind::Empty),
        any::<u64>().prop_map(BodyKind::Length),
        Just(BodyKind::Chunked),
    ]
}

fn lower(fields: &[(String, String)]) -> Vec<Header> {
    fields
        .iter()
        .map(|(n, v)| (Bytes::from(n.to_ascii_lowercase()), Bytes::from(v.clone())))
        .collect()
}

fn pairs(fields: &[(String, String)]) -> impl Iterator<Item = (&String, &String)> {
    fields.iter().map(|(n, v)| (n, v))
}

fn framing_field(body: BodyKind) -> Option<Header> {
    match body {
        BodyKind::Length(n) => Some((
            Bytes::from_static(b"content-length"),
            Bytes::from(n.to_string()),
        )),
        BodyKind::Chunked => Some((
            Bytes::from_static(b"transfer-encoding"),
            Bytes::from_static(b"chunked"),
        )),
        BodyKind::Empty | BodyKind::UntilClose => None,
    }
}

/// Parses `buf` and checks what any parse must satisfy: no more consumed than given, and a
/// complete head is incomplete one byte shorter and the same on exactly its own bytes.
fn check_request_invariants(buf: &[u8], limits: &Limits) {
    if let Ok(Some((head, n))) = parse_request(buf, limits) {
        assert!(n <= buf.len());
        assert_eq!(parse_request(&buf[..n - 1], limits), Ok(None));
        assert_eq!(parse_request(&buf[..n], limits), Ok(Some((head, n))));
    }
}

fn check_response_invariants(buf: &[u8], limits: &Limits, head: bool) {
    if let Ok(Some((r, n))) = parse_response(buf, limits, head) {
        assert!(n <= buf.len());
        assert_eq!(parse_response(&buf[..n - 1], limits, head), Ok(None));
        assert_eq!(parse_response(&buf[..n], limits, head), Ok(Some((r, n))));
    }
}

proptest! {
    #[test]
    fn request_round_trip(m in method(), p in path(), h in host(), fields in headers(), b in body()) {
        let mut out = BytesMut::new();
        write_request_head(&m, p.as_bytes(), h.as_bytes(), pairs(&fields), b, &mut out).unwrap();
        let (head, n) = parse_request(&out, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(n, out.len());
        prop_assert_eq!(&head.method, &m);
        prop_assert_eq!(&head.target, &Target::Origin(Bytes::from(p)));
        prop_assert_eq!(head.version, Version::Http11);
        prop_assert_eq!(head.body, b);
        prop_assert!(head.keep_alive);
        let mut want = vec![(Bytes::from_static(b"host"), Bytes::from(h))];
        want.extend(lower(&fields));
        want.extend(framing_field(b));
        prop_assert_eq!(head.headers, want);
    }

    #[test]
    fn absolute_form_round_trip(https in any::<bool>(), p in path(), h in host(), fields in headers()) {
        let scheme = if https { "https" } else { "http" };
        let mut text = format!("GET {scheme}://{h}{p} HTTP/1.1\r\nHost: {h}\r\n");
        for (n, v) in &fields {
            text.push_str(&format!("{n}: {v}\r\n"));
        }
        text.push_str("\r\n");
        let (head, _) = parse_request(text.as_bytes(), &Limits::default()).unwrap().unwrap();
        let hp = parse_authority(h.as_bytes()).unwrap();
        prop_assert_eq!(head.host(), Some(hp.host));
        let default = if https { 443 } else { 80 };
        prop_assert_eq!(head.port(), Some(hp.port.unwrap_or(default)));
        prop_assert_eq!(head.target.path_and_query(), Some(p.as_bytes()));
        prop_assert_eq!(&head.headers[1..], &lower(&fields)[..]);
    }

    #[test]
    fn response_round_trip(status in 100u16..=599, reason in "[ -~\t]{0,20}", fields in headers(), b in prop_oneof![body(), Just(BodyKind::UntilClose)]) {
        let mut out = BytesMut::new();
        write_response_head(status, reason.as_bytes(), pairs(&fields), b, &mut out).unwrap();
        let (r, n) = parse_response(&out, &Limits::default(), false).unwrap().unwrap();
        prop_assert_eq!(n, out.len());
        prop_assert_eq!(r.status, status);
        let want_reason = if reason.is_empty() { canonical_reason(status) } else { reason.as_str() };
        prop_assert_eq!(&r.reason[..], want_reason.as_bytes());
        let bodyless = (100..200).contains(&status) || status == 204;
        let mut want = lower(&fields);
        let want_body = match b {
            _ if bodyless && b == BodyKind::UntilClose => BodyKind::Empty,
            _ if bodyless => BodyKind::Empty,
            BodyKind::Empty if status != 304 => BodyKind::UntilClose,
            _ if status == 304 => BodyKind::Empty,
            other => other,
        };
        if b == BodyKind::UntilClose {
            want.push((Bytes::from_static(b"connection"), Bytes::from_static(b"close")));
        } else if !bodyless {
            want.extend(framing_field(b));
        }
        prop_assert_eq!(r.body, want_body);
        prop_assert_eq!(r.keep_alive, b != BodyKind::UntilClose && want_body != BodyKind::UntilClose);
        prop_assert_eq!(r.headers, want);
    }

    #[test]
    fn parsers_never_panic(input in prop::collection::vec(any::<u8>(), 0..600), tight in any::<bool>()) {
        let limits = if tight {
            Limits { max_request_line: 16, max_head: 64, max_headers: 2 }
        } else {
            Limits::default()
        };
        check_request_invariants(&input, &limits);
        check_response_invariants(&input, &limits, false);
        check_response_invariants(&input, &limits, true);
        let mut dec = ChunkedDecoder::with_limits(8, 32);
        let mut buf = BytesMut::from(&input[..]);
        while let Ok(Some(_)) = dec.decode(&mut buf) {}
    }

    #[test]
    fn mutated_heads_never_panic(
        base in prop_oneof![
            Just(&b"GET http://a.example:8080/p?q HTTP/1.1\r\nHost: a.example:8080\r\nX: y\r\n\r\n"[..]),
            Just(&b"POST http://a.example/ HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"[..]),
            Just(&b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n"[..]),
            Just(&b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"[..]),
        ],
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(&b"\r\n \t:,;@#/\x00\x7f\xffaZ09\"-_"[..]), 0u8..3), 1..6),
    ) {
        let mut input = base.to_vec();
        for (at, byte, op) in edits {
            let i = at.index(input.len() + 1);
            match op {
                0 => input.insert(i, byte),
                1 if i < input.len() => input[i] = byte,
                _ if i < input.len() => { input.remove(i); }
                _ => {}
            }
        }
        let limits = Limits::default();
        check_request_invariants(&input, &limits);
        check_response_invariants(&input, &limits, false);
        let mut dec = ChunkedDecoder::new();
        let mut buf = BytesMut::from(&input[..]);
        while let Ok(Some(_)) = dec.decode(&mut buf) {}
    }

    #[test]
    fn chunked_identity(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
        ext in prop::collection::vec(proptest::option::of("[a-z]{1,5}(=[a-z0-9]{1,5})?"), 8),
        trailers in prop::collection::vec(("x-[a-z]{1,8}", "[!-~]{1,10}"), 0..3),
        feed in prop::collection::vec(1usize..64, 1..40),
    ) {
        let mut wire = BytesMut::new();
        for (i, c) in chunks.iter().enumerate() {
            if c.is_empty() {
                continue;
            }
            chunk_header(c.len(), &mut wire);
            if let Some(Some(e)) = ext.get(i) {
                // Splice an extension before the size line's CRLF.
                wire.truncate(wire.len() - 2);
                wire.put_slice(format!(";{e}\r\n").as_bytes());
            }
            wire.put_slice(c);
            chunk_end(&mut wire);
        }
        last_chunk_with_trailers(pairs(&trailers), &mut wire).unwrap();
        wire.put_slice(b"NEXT");

        let mut dec = ChunkedDecoder::new();
        let mut buf = BytesMut::new();
        let mut data = Vec::new();
        let mut end = None;
        let mut at = 0;
        let mut sizes = feed.iter().cycle();
        while at < wire.len() {
            let n = (*sizes.next().unwrap()).min(wire.len() - at);
            buf.put_slice(&wire[at..at + n]);
            at += n;
            while let Some(item) = dec.decode(&mut buf).unwrap() {
                match item {
                    ChunkedItem::Data(d) => data.extend_from_slice(&d),
                    ChunkedItem::End(t) => end = Some(t),
                }
            }
        }
        prop_assert_eq!(data, chunks.concat());
        prop_assert_eq!(end, Some(lower(&trailers)));
        prop_assert_eq!(&buf[..], b"NEXT");
    }
}
