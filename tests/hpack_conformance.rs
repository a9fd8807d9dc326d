//! HPACK interoperability against the hpack-test-case stories (`../shared/testdata`).
//!
//! * `nghttp2/`, `go-hpack/`, `python-hpack/`: blocks from three independent encoders; our
//!   decoder must reproduce every header list, one decoding context per story.
//! * `raw-data/`: header lists only; our encoder encodes them (one context per story), and both
//!   our decoder and the `h2` crate's decoder must get them back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use sallyport::proto::hpack::{Decoder, Encoder, Field, DEFAULT_TABLE_SIZE};
use serde_json::Value;

type Header = (Vec<u8>, Vec<u8>);

struct Case {
    wire: Option<Bytes>,
    headers: Vec<Header>,
    table_size: Option<usize>,
}

fn corpus() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/hpack-test-case");
    assert!(
        dir.is_dir(),
        "{} is missing: the HPACK stories must be checked out beside the repository",
        dir.display()
    );
    dir
}

fn hex(s: &str) -> Bytes {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect::<Vec<u8>>()
        .into()
}

/// Every `story_*.json` of `dir`, sorted by name.
fn stories(dir: &str) -> Vec<(String, Vec<Case>)> {
    let dir = corpus().join(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("story readable");
            let json: Value = serde_json::from_str(&text).expect("story is JSON");
            let cases = json["cases"]
                .as_array()
                .expect("cases")
                .iter()
                .map(|c| Case {
                    wire: c["wire"].as_str().map(hex),
                    headers: c["headers"]
                        .as_array()
                        .expect("headers")
                        .iter()
                        .flat_map(|h| h.as_object().expect("header object"))
                        .map(|(n, v)| {
                            let v = v.as_str().expect("header value is a string");
                            (n.as_bytes().to_vec(), v.as_bytes().to_vec())
                        })
                        .collect(),
                    table_size: c["header_table_size"]
                        .as_u64()
                        .map(|s| usize::try_from(s).expect("table size")),
                })
                .collect();
            (p.display().to_string(), cases)
        })
        .collect()
}

fn as_pairs(fields: &[Field]) -> Vec<Header> {
    fields
        .iter()
        .map(|f| (f.name.to_vec(), f.value.to_vec()))
        .collect()
}

#[test]
fn decodes_the_stories_of_three_encoders() {
    let mut total_stories = 0;
    let mut total_cases = 0;
    let mut total_fields = 0;
    for encoder in ["nghttp2", "go-hpack", "python-hpack"] {
        let (mut n_stories, mut n_cases) = (0, 0);
        for (path, cases) in stories(encoder) {
            let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
            let mut out = Vec::new();
            for (i, case) in cases.iter().enumerate() {
                if let Some(size) = case.table_size {
                    decoder.set_max_table_size(size);
                }
                let wire = case.wire.as_ref().expect("case has wire");
                out.clear();
                decoder
                    .decode(wire, usize::MAX, &mut out)
                    .unwrap_or_else(|e| panic!("{path} case {i}: {e}"));
                assert_eq!(as_pairs(&out), case.headers, "{path} case {i}");
                n_cases += 1;
                total_fields += out.len();
            }
            n_stories += 1;
        }
        println!("{encoder}: {n_stories} stories, {n_cases} header blocks decoded");
        assert!(n_stories > 0 && n_cases > 0, "{encoder}: nothing tested");
        total_stories += n_stories;
        total_cases += n_cases;
    }
    println!("total: {total_stories} stories, {total_cases} blocks, {total_fields} fields");
    assert!(total_cases > 1000, "only {total_cases} blocks tested");
}

/// Connection-specific fields make `h2` reject the message (RFC 9113 §8.2.2) after decoding
/// it, so they are left out of the lists sent to `h2`.
fn h2_acceptable((name, value): &&Header) -> bool {
    match &name[..] {
        b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade" => {
            false
        }
        b"te" => value == b"trailers",
        _ => true,
    }
}

/// A HEADERS frame (END_STREAM | END_HEADERS) carrying `block`.
fn headers_frame(stream_id: u32, block: &[u8], dst: &mut Vec<u8>) {
    let len = u32::try_from(block.len()).expect("block length");
    assert!(len < 1 << 24, "block too large for one frame");
    dst.extend_from_slice(&len.to_be_bytes()[1..]);
    dst.extend_from_slice(&[0x1, 0x5]);
    dst.extend_from_slice(&stream_id.to_be_bytes());
    dst.extend_from_slice(block);
}

/// Pseudo-header fields and regular fields (per name, values in order): the shape `h2`
/// decodes into, so that both sides can be compared.
type Shape = (BTreeMap<Vec<u8>, Vec<u8>>, BTreeMap<Vec<u8>, Vec<Vec<u8>>>);

fn shape<'a>(headers: impl IntoIterator<Item = &'a Header>) -> Shape {
    let mut pseudo = BTreeMap::new();
    let mut regular: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    for (n, v) in headers {
        if n.starts_with(b":") {
            assert!(
                pseudo.insert(n.clone(), v.clone()).is_none(),
                "repeated pseudo"
            );
        } else {
            regular.entry(n.clone()).or_default().push(v.clone());
        }
    }
    (pseudo, regular)
}

/// Decodes the frames in `wire` with `h2`'s codec (and so its HPACK decoder), one shape per
/// HEADERS frame.
fn h2_decode(wire: &[u8], blocks: usize) -> Vec<Shape> {
    let io = tokio::io::join(wire, tokio::io::sink());
    let mut codec = h2::Codec::<_, Bytes>::new(io);
    codec.set_max_recv_frame_size(16_777_215);
    let mut cx = Context::from_waker(Waker::noop());
    let mut shapes = Vec::with_capacity(blocks);
    for i in 0..blocks {
        let frame = match Pin::new(&mut codec).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => panic!("block {i}: h2 returned {other:?}"),
        };
        let h2::frame::Frame::Headers(headers) = frame else {
            panic!("block {i}: not HEADERS: {frame:?}");
        };
        let (p, fields) = headers.into_parts();
        let mut pseudo = BTreeMap::new();
        let mut put = |name: &str, value: Option<&[u8]>| {
            if let Some(v) = value {
                pseudo.insert(name.as_bytes().to_vec(), v.to_vec());
            }
        };
        put(":method", p.method.as_ref().map(|m| m.as_str().as_bytes()));
        put(":scheme", p.scheme.as_ref().map(|s| s.as_ref()));
        put(":authority", p.authority.as_ref().map(|s| s.as_ref()));
        put(":path", p.path.as_ref().map(|s| s.as_ref()));
        put(":status", p.status.as_ref().map(|s| s.as_str().as_bytes()));
        let mut regular = BTreeMap::new();
        for name in fields.keys() {
            let values: Vec<Vec<u8>> = fields
                .get_all(name)
                .iter()
                .map(|v| v.as_bytes().to_vec())
                .collect();
            regular.insert(name.as_str().as_bytes().to_vec(), values);
        }
        shapes.push((pseudo, regular));
    }
    shapes
}

#[test]
fn our_encoding_of_raw_data_decodes_with_ours_and_h2() {
    let mut n_stories = 0;
    let mut n_cases = 0;
    let mut bytes_in = 0usize;
    let mut bytes_out = 0usize;
    let mut h2_cases = 0;
    for table_size in [DEFAULT_TABLE_SIZE, 256] {
        for (path, cases) in stories("raw-data") {
            // Our round trip, with every field as in the story.
            let mut encoder = Encoder::new();
            let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
            encoder.set_max_table_size(table_size);
            decoder.set_max_table_size(table_size);
            // A second context for h2, without the fields it refuses.
            let mut h2_encoder = Encoder::new();
            h2_encoder.set_max_table_size(table_size);
            let mut h2_wire = Vec::new();
            let mut expected = Vec::new();
            let mut out = Vec::new();
            for (i, case) in cases.iter().enumerate() {
                let mut wire = BytesMut::new();
                encoder.encode(
                    case.headers.iter().map(|(n, v)| (&n[..], &v[..], false)),
                    &mut wire,
                );
                let wire = wire.freeze();
                out.clear();
                decoder
                    .decode(&wire, usize::MAX, &mut out)
                    .unwrap_or_else(|e| panic!("{path} case {i}: {e}"));
                assert_eq!(as_pairs(&out), case.headers, "{path} case {i}");
                assert!(
                    encoder.table_entries().eq(decoder.table_entries()),
                    "{path} case {i}: tables diverged"
                );
                bytes_in += case
                    .headers
                    .iter()
                    .map(|(n, v)| n.len() + v.len())
                    .sum::<usize>();
                bytes_out += wire.len();
                n_cases += 1;

                // h2 also insists on pseudo-header fields first (RFC 9113 §8.3); some stories
                // have them later.
                let mut kept: Vec<&Header> = case.headers.iter().filter(h2_acceptable).collect();
                kept.sort_by_key(|(n, _)| !n.starts_with(b":"));
                let mut block = BytesMut::new();
                h2_encoder.encode(
                    kept.iter().map(|(n, v)| (&n[..], &v[..], false)),
                    &mut block,
                );
                let stream_id = u32::try_from(2 * i + 1).expect("stream id");
                headers_frame(stream_id, &block, &mut h2_wire);
                expected.push(shape(kept));
            }
            let decoded = h2_decode(&h2_wire, expected.len());
            for (i, (ours, theirs)) in expected.iter().zip(&decoded).enumerate() {
                assert_eq!(ours, theirs, "{path} case {i}: h2 decoded differently");
            }
            h2_cases += decoded.len();
            n_stories += 1;
        }
    }
    println!(
        "raw-data: {n_stories} story runs, {n_cases} blocks round-tripped \
         ({bytes_in} header bytes -> {bytes_out} HPACK bytes), {h2_cases} decoded by h2"
    );
    assert!(
        n_stories > 0 && n_cases > 1000,
        "only {n_cases} blocks tested"
    );
    assert_eq!(h2_cases, n_cases);
}
