//! The chunked coding: decoding at every split, zero copy, trailers, every rejection.

use super::*;
use bytes::{BufMut, BytesMut};
use Http1Error::*;

/// Decodes `pieces` fed one after the other; returns the data, the trailers if `End` was
/// reached, what is left in the buffer, or the first error.
type Outcome = Result<(Vec<u8>, Option<Vec<Header>>, Vec<u8>), Http1Error>;

fn decode_pieces(pieces: &[&[u8]]) -> Outcome {
    let mut dec = ChunkedDecoder::new();
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    let mut end = None;
    for piece in pieces {
        buf.put_slice(piece);
        while let Some(item) = dec.decode(&mut buf)? {
            match item {
                ChunkedItem::Data(d) => {
                    assert!(!d.is_empty());
                    data.extend_from_slice(&d);
                }
                ChunkedItem::End(t) => end = Some(t),
            }
        }
    }
    assert_eq!(dec.is_done(), end.is_some());
    Ok((data, end, buf.to_vec()))
}

fn decode_all(input: &[u8]) -> Outcome {
    decode_pieces(&[input])
}

/// Decoding `input` gives the same outcome whole, byte by byte, and split at each boundary.
fn same_at_every_split(input: &[u8]) -> Outcome {
    let whole = decode_all(input);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(decode_pieces(&bytes), whole, "byte by byte");
    for i in 0..=input.len() {
        let (a, b) = input.split_at(i);
        assert_eq!(decode_pieces(&[a, b]), whole, "split at {i}");
    }
    whole
}

const SAMPLE: &[u8] = b"5\r\nhello\r\n7;ext=\"v\"; x\r\n, world\r\n1 ;y\r\n!\r\n0\r\nX-Sum: abc\r\nContent-Length: 5\r\nHost: evil\r\nTrailer: x\r\n\r\nNEXT";

#[test]
fn decodes_sample_at_every_split() {
    let (data, trailers, rest) = same_at_every_split(SAMPLE).unwrap();
    assert_eq!(data, b"hello, world!");
    assert_eq!(
        trailers.unwrap(),
        vec![(Bytes::from_static(b"x-sum"), Bytes::from_static(b"abc"))],
        "framing, routing and hop-by-hop trailers are dropped"
    );
    assert_eq!(rest, b"NEXT", "bytes after the body are left alone");
}

#[test]
fn data_is_not_copied() {
    let mut buf = BytesMut::from(&b"4\r\nabcd\r\n0\r\n\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let mut dec = ChunkedDecoder::new();
    let Some(ChunkedItem::Data(d)) = dec.decode(&mut buf).unwrap() else {
        panic!("expected data")
    };
    assert_eq!(
        d.as_ptr() as usize,
        base + 3,
        "data is a slice of the receive buffer"
    );
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(ChunkedItem::End(vec![]))
    );
    assert!(buf.is_empty());
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
}

#[test]
fn partial_chunk_data_is_returned_as_it_arrives() {
    let mut dec = ChunkedDecoder::new();
    let mut buf = BytesMut::from(&b"a\r\n0123"[..]);
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(ChunkedItem::Data(Bytes::from_static(b"0123")))
    );
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
    buf.put_slice(b"456789\r\n0\r\n\r\n");
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(ChunkedItem::Data(Bytes::from_static(b"456789")))
    );
    assert!(matches!(
        dec.decode(&mut buf).unwrap(),
        Some(ChunkedItem::End(_))
    ));
}

#[test]
fn sizes() {
    let (d, ..) = decode_all(b"A\r\n0123456789\r\n0\r\n\r\n").unwrap();
    assert_eq!(d.len(), 10);
    let (d, ..) = decode_all(b"000000000000000a\r\n0123456789\r\n00\r\n\r\n").unwrap();
    assert_eq!(d.len(), 10, "16 digits are fine");
    // The largest size is accepted (the data just never ends here).
    let (d, end, _) = decode_all(b"ffffffffffffffff\r\nxyz").unwrap();
    assert_eq!((d, end), (b"xyz".to_vec(), None));
}

#[test]
fn rejections() {
    let cases: &[(&[u8], Http1Error)] = &[
        (b"5\nhello\r\n0\r\n\r\n", BareLf),
        (b"5\r\nhello\n0\r\n\r\n", MissingChunkCrlf),
        (b"5\r\nhello0\r\n\r\n", MissingChunkCrlf),
        (b"5\r\nhello\r\r\n", MissingChunkCrlf),
        (b"5\r\nhelloXY", MissingChunkCrlf),
        (b"5\r\r\nhello\r\n", BareCr),
        (b"5;a\rb\r\n", BareCr),
        (b"\r\n", InvalidChunkSize),
        (b"g\r\n", InvalidChunkSize),
        (b"-5\r\n", InvalidChunkSize),
        (b"+5\r\n", InvalidChunkSize),
        (b"0x5\r\n", InvalidChunkSize),
        (b" 5\r\n", InvalidChunkSize),
        (b"5x\r\n", InvalidChunkSize),
        (b"00000000000000000\r\n", ChunkSizeOverflow),
        (b"10000000000000000\r\n", ChunkSizeOverflow),
        (b"5 \r\n", InvalidChunkExtension),
        (b"5\t\r\n", InvalidChunkExtension),
        (b"5 x\r\n", InvalidChunkExtension),
        (b"5;a\x01\r\n", InvalidChunkExtension),
        (b"5;a\x7f\r\n", InvalidChunkExtension),
        (b"0\r\nX: a\n\r\n", BareLf),
        (b"0\r\n X: a\r\n\r\n", ObsFold),
        (b"0\r\nX : a\r\n\r\n", WhitespaceBeforeColon),
        (b"0\r\nno colon\r\n\r\n", InvalidHeaderName),
        (
            b"0\r\nX: a\x00\r\n\r\n",
            InvalidHeaderValue {
                name: Bytes::from_static(b"x"),
            },
        ),
        (b"0\r\n\n", BareLf),
    ];
    for (input, want) in cases {
        assert_eq!(
            same_at_every_split(input),
            Err(want.clone()),
            "{:?}",
            input.escape_ascii().to_string()
        );
    }
}

#[test]
fn line_caps() {
    let long_ext = format!("5;{}\r\nhello\r\n", "e".repeat(DEFAULT_MAX_CHUNK_LINE));
    let want = Err(ChunkLineTooLong {
        limit: DEFAULT_MAX_CHUNK_LINE,
    });
    assert_eq!(decode_all(long_ext.as_bytes()), want);
    // Known as soon as the cap is passed, without an LF.
    assert_eq!(decode_all(&vec![b'1'; DEFAULT_MAX_CHUNK_LINE + 2]), want);
    // Exactly at the cap is fine.
    let at_cap = format!(
        "5;{}\r\nhello\r\n0\r\n\r\n",
        "e".repeat(DEFAULT_MAX_CHUNK_LINE - 2)
    );
    assert_eq!(decode_all(at_cap.as_bytes()).unwrap().0, b"hello");
    // A long trailer line.
    let long_trailer = format!("0\r\nX: {}\r\n\r\n", "v".repeat(DEFAULT_MAX_CHUNK_LINE));
    assert_eq!(decode_all(long_trailer.as_bytes()), want);
}

#[test]
fn trailer_section_cap() {
    let mut input = b"0\r\n".to_vec();
    for i in 0..2000 {
        input.extend_from_slice(format!("X-{i}: vvvvvvvv\r\n").as_bytes());
    }
    input.extend_from_slice(b"\r\n");
    assert_eq!(
        decode_all(&input),
        Err(TrailersTooLarge {
            limit: DEFAULT_MAX_TRAILER_BYTES
        })
    );
    let mut small = ChunkedDecoder::with_limits(16, 10);
    let mut buf = BytesMut::from(&b"0\r\nX-abc: 1\r\n\r\n"[..]);
    assert_eq!(small.decode(&mut buf), Err(TrailersTooLarge { limit: 10 }));
}

#[test]
fn errors_are_sticky() {
    let mut dec = ChunkedDecoder::default();
    let mut buf = BytesMut::from(&b"zz\r\n"[..]);
    assert_eq!(dec.decode(&mut buf), Err(InvalidChunkSize));
    let mut fresh = BytesMut::from(&b"5\r\nhello\r\n"[..]);
    assert_eq!(dec.decode(&mut fresh), Err(InvalidChunkSize));
    assert!(!dec.is_done());
}

#[test]
fn encoder_helpers() {
    let mut out = BytesMut::new();
    chunk_header(0, &mut out);
    assert!(out.is_empty(), "a zero-size chunk would end the body");
    chunk_header(255, &mut out);
    assert_eq!(&out[..], b"ff\r\n");
    out.clear();
    chunk_header(5, &mut out);
    out.put_slice(b"hello");
    chunk_end(&mut out);
    chunk_header(4096, &mut out);
    out.put_slice(&[b'x'; 4096]);
    chunk_end(&mut out);
    last_chunk(&mut out);
    assert!(out.starts_with(b"5\r\nhello\r\n1000\r\n"));
    assert!(out.ends_with(b"\r\n0\r\n\r\n"));
    let (data, end, rest) = decode_all(&out).unwrap();
    assert_eq!(data.len(), 4101);
    assert_eq!(end, Some(vec![]));
    assert!(rest.is_empty());
}

#[test]
fn last_chunk_with_trailers_round_trips() {
    let mut out = BytesMut::new();
    let trailers = [
        ("grpc-status", "0"),
        ("Content-Length", "9"),
        ("x-b", "two words"),
    ];
    last_chunk_with_trailers(trailers, &mut out).unwrap();
    assert_eq!(&out[..], b"0\r\ngrpc-status: 0\r\nx-b: two words\r\n\r\n");
    let (_, end, _) = decode_all(&out).unwrap();
    assert_eq!(end.unwrap().len(), 2);
    let mut out = BytesMut::from(&b"keep"[..]);
    assert_eq!(
        last_chunk_with_trailers([("x", "a\r\nb")], &mut out),
        Err(InvalidHeaderValue {
            name: Bytes::from_static(b"x")
        })
    );
    assert_eq!(&out[..], b"keep", "nothing written on error");
}
