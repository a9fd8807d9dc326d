//! RFC 7541 Appendix C, error reachability, the HPACK bomb and the encoder's policy.

use bytes::{Bytes, BytesMut};

use super::*;

fn hex(s: &str) -> Bytes {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn pairs(fields: &[Field]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|f| {
            (
                String::from_utf8_lossy(&f.name).into_owned(),
                String::from_utf8_lossy(&f.value).into_owned(),
            )
        })
        .collect()
}

fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|&(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

fn dec_table(d: &Decoder) -> Vec<(String, String)> {
    d.table_entries()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

fn enc_table(e: &Encoder) -> Vec<(String, String)> {
    e.table_entries()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

fn decode(d: &mut Decoder, block: &Bytes) -> Result<Vec<Field>, HpackError> {
    let mut out = Vec::new();
    d.decode(block, usize::MAX, &mut out)?;
    Ok(out)
}

fn encode(e: &mut Encoder, list: &[(&str, &str)]) -> Bytes {
    let mut dst = BytesMut::new();
    e.encode(
        list.iter()
            .map(|&(n, v)| (n.as_bytes(), v.as_bytes(), false)),
        &mut dst,
    );
    dst.freeze()
}

/// One step of an Appendix C sequence: the block, the header list, the table afterwards
/// (newest first) and its size.
struct Step {
    wire: &'static str,
    headers: &'static [(&'static str, &'static str)],
    table: &'static [(&'static str, &'static str)],
    size: usize,
}

fn run_decoder(table_size: usize, steps: &[Step]) {
    let mut d = Decoder::new(table_size);
    for (i, s) in steps.iter().enumerate() {
        let out = decode(&mut d, &hex(s.wire)).unwrap_or_else(|e| panic!("step {i}: {e}"));
        assert_eq!(pairs(&out), owned(s.headers), "step {i}");
        assert!(out.iter().all(|f| !f.sensitive));
        assert_eq!(dec_table(&d), owned(s.table), "step {i}");
        assert_eq!(d.table_size(), s.size, "step {i}");
    }
}

/// Our encoder on the same header lists: the decoder must get them back and both tables must
/// agree with the RFC's after each block. Where our policy matches the RFC's encoder, `exact`
/// gives the bytes we must produce for each step.
fn run_encoder(table_size: usize, steps: &[Step], exact: Option<&[&str]>) {
    let mut e = Encoder::new();
    let mut d = Decoder::new(DEFAULT_TABLE_SIZE);
    if table_size != DEFAULT_TABLE_SIZE {
        e.set_max_table_size(table_size);
        d.set_max_table_size(table_size);
    }
    for (i, s) in steps.iter().enumerate() {
        let wire = encode(&mut e, s.headers);
        if let Some(exact) = exact {
            assert_eq!(to_hex(&wire), exact[i], "step {i}");
        }
        let out = decode(&mut d, &wire).unwrap();
        assert_eq!(pairs(&out), owned(s.headers), "step {i}");
        assert_eq!(enc_table(&e), owned(s.table), "step {i}");
        assert_eq!(dec_table(&d), owned(s.table), "step {i}");
        assert_eq!(
            (e.table_size(), d.table_size()),
            (s.size, s.size),
            "step {i}"
        );
    }
}

#[test]
fn rfc7541_c_2_1_literal_with_indexing() {
    let mut d = Decoder::new(4096);
    let out = decode(
        &mut d,
        &hex("400a637573746f6d2d6b65790d637573746f6d2d686561646572"),
    )
    .unwrap();
    assert_eq!(pairs(&out), owned(&[("custom-key", "custom-header")]));
    assert_eq!(dec_table(&d), owned(&[("custom-key", "custom-header")]));
    assert_eq!(d.table_size(), 55);
}

#[test]
fn rfc7541_c_2_2_literal_without_indexing() {
    let mut d = Decoder::new(4096);
    let out = decode(&mut d, &hex("040c2f73616d706c652f70617468")).unwrap();
    assert_eq!(pairs(&out), owned(&[(":path", "/sample/path")]));
    assert!(!out[0].sensitive);
    assert_eq!(d.table_size(), 0);
}

#[test]
fn rfc7541_c_2_3_literal_never_indexed() {
    let mut d = Decoder::new(4096);
    let out = decode(&mut d, &hex("100870617373776f726406736563726574")).unwrap();
    assert_eq!(pairs(&out), owned(&[("password", "secret")]));
    assert!(out[0].sensitive);
    assert_eq!(d.table_size(), 0);
    // Our encoder sends a sensitive field the same way (Huffman-coding the strings, which the
    // RFC example does not), and the flag survives the round trip.
    let mut e = Encoder::new();
    let mut dst = BytesMut::new();
    e.encode([(&b"password"[..], &b"secret"[..], true)], &mut dst);
    assert_eq!(to_hex(&dst), "1086ac684783d9278441496153");
    let out = decode(&mut d, &dst.freeze()).unwrap();
    assert_eq!(pairs(&out), owned(&[("password", "secret")]));
    assert!(out[0].sensitive);
    assert_eq!(d.table_size(), 0);
}

#[test]
fn rfc7541_c_2_4_indexed() {
    let mut d = Decoder::new(4096);
    let out = decode(&mut d, &hex("82")).unwrap();
    assert_eq!(pairs(&out), owned(&[(":method", "GET")]));
    assert_eq!(d.table_size(), 0);
}

const REQ1: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
];
const REQ2: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
    ("cache-control", "no-cache"),
];
const REQ3: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/index.html"),
    (":authority", "www.example.com"),
    ("custom-key", "custom-value"),
];
const REQ_T1: &[(&str, &str)] = &[(":authority", "www.example.com")];
const REQ_T2: &[(&str, &str)] = &[
    ("cache-control", "no-cache"),
    (":authority", "www.example.com"),
];
const REQ_T3: &[(&str, &str)] = &[
    ("custom-key", "custom-value"),
    ("cache-control", "no-cache"),
    (":authority", "www.example.com"),
];

const C3: &[Step] = &[
    Step {
        wire: "828684410f7777772e6578616d706c652e636f6d",
        headers: REQ1,
        table: REQ_T1,
        size: 57,
    },
    Step {
        wire: "828684be58086e6f2d6361636865",
        headers: REQ2,
        table: REQ_T2,
        size: 110,
    },
    Step {
        wire: "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
        headers: REQ3,
        table: REQ_T3,
        size: 164,
    },
];

const C4: &[Step] = &[
    Step {
        wire: "828684418cf1e3c2e5f23a6ba0ab90f4ff",
        headers: REQ1,
        table: REQ_T1,
        size: 57,
    },
    Step {
        wire: "828684be5886a8eb10649cbf",
        headers: REQ2,
        table: REQ_T2,
        size: 110,
    },
    Step {
        wire: "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
        headers: REQ3,
        table: REQ_T3,
        size: 164,
    },
];

const DATE1: &str = "Mon, 21 Oct 2013 20:13:21 GMT";
const COOKIE: &str = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const RESP1: &[(&str, &str)] = &[
    (":status", "302"),
    ("cache-control", "private"),
    ("date", DATE1),
    ("location", "https://www.example.com"),
];
const RESP2: &[(&str, &str)] = &[
    (":status", "307"),
    ("cache-control", "private"),
    ("date", DATE1),
    ("location", "https://www.example.com"),
];
const RESP3: &[(&str, &str)] = &[
    (":status", "200"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
    ("location", "https://www.example.com"),
    ("content-encoding", "gzip"),
    ("set-cookie", COOKIE),
];
const RESP_T1: &[(&str, &str)] = &[
    ("location", "https://www.example.com"),
    ("date", DATE1),
    ("cache-control", "private"),
    (":status", "302"),
];
const RESP_T2: &[(&str, &str)] = &[
    (":status", "307"),
    ("location", "https://www.example.com"),
    ("date", DATE1),
    ("cache-control", "private"),
];
const RESP_T3: &[(&str, &str)] = &[
    ("set-cookie", COOKIE),
    ("content-encoding", "gzip"),
    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
];

const C5: &[Step] = &[
    Step {
        wire: "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
        headers: RESP1,
        table: RESP_T1,
        size: 222,
    },
    Step {
        wire: "4803333037c1c0bf",
        headers: RESP2,
        table: RESP_T2,
        size: 222,
    },
    Step {
        wire: "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
        headers: RESP3,
        table: RESP_T3,
        size: 215,
    },
];

const C6: &[Step] = &[
    Step {
        wire: "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
        headers: RESP1,
        table: RESP_T1,
        size: 222,
    },
    Step {
        wire: "4883640effc1c0bf",
        headers: RESP2,
        table: RESP_T2,
        size: 222,
    },
    Step {
        wire: "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
        headers: RESP3,
        table: RESP_T3,
        size: 215,
    },
];

#[test]
fn rfc7541_c_3_requests_without_huffman() {
    run_decoder(4096, C3);
    // We Huffman-code where it is shorter: the C.4 bytes.
    let c4: Vec<&str> = C4.iter().map(|s| s.wire).collect();
    run_encoder(4096, C3, Some(&c4));
}

#[test]
fn rfc7541_c_4_requests_with_huffman() {
    run_decoder(4096, C4);
    // Our policy is the RFC example encoder's: byte-identical.
    let c4: Vec<&str> = C4.iter().map(|s| s.wire).collect();
    run_encoder(4096, C4, Some(&c4));
}

#[test]
fn rfc7541_c_5_responses_without_huffman() {
    run_decoder(256, C5);
    run_encoder(256, C5, None);
}

#[test]
fn rfc7541_c_6_responses_with_huffman() {
    run_decoder(256, C6);
    // The RFC's bytes, except: we start with the size update (256) owed to the peer for its
    // smaller setting, and "307" stays raw because its Huffman coding is not shorter.
    let first = format!("3fe101{}", C6[0].wire);
    run_encoder(256, C6, Some(&[&first, C5[1].wire, C6[2].wire]));
}

fn decode_err(d: &mut Decoder, block: &[u8]) -> HpackError {
    let mut out = vec![Field {
        name: Bytes::from_static(b"sentinel"),
        value: Bytes::new(),
        sensitive: false,
    }];
    let err = d
        .decode(&Bytes::copy_from_slice(block), 1 << 20, &mut out)
        .unwrap_err();
    assert_eq!(out.len(), 1, "out restored after {err}");
    err
}

#[test]
fn every_error_variant_is_reachable() {
    let fresh = || Decoder::new(4096);
    assert_eq!(
        decode_err(&mut fresh(), &[0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
        HpackError::IntegerOverflow
    );
    assert_eq!(
        decode_err(&mut fresh(), &[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        HpackError::IntegerOverflow
    );
    assert_eq!(decode_err(&mut fresh(), &[0xff]), HpackError::Truncated);
    assert_eq!(decode_err(&mut fresh(), &[0x40]), HpackError::Truncated);
    assert_eq!(
        decode_err(&mut fresh(), &[0x40, 0x05, b'a']),
        HpackError::Truncated
    );
    assert_eq!(
        decode_err(&mut fresh(), &[0x41, 0x7f, 0xff, 0xff, 0xff, 0x0f]),
        HpackError::Truncated,
        "a 32 MiB length is checked against the input before anything is allocated"
    );
    assert_eq!(
        decode_err(&mut fresh(), &[0x80]),
        HpackError::InvalidIndex(0)
    );
    assert_eq!(
        decode_err(&mut fresh(), &[0xbe]),
        HpackError::InvalidIndex(62)
    );
    assert_eq!(
        decode_err(&mut fresh(), &[0x7e, 0x00]),
        HpackError::InvalidIndex(62)
    );
    assert_eq!(
        decode_err(&mut fresh(), &[0x1f, 0x30, 0x00]),
        HpackError::InvalidIndex(63)
    );
    assert_eq!(
        decode_err(
            &mut fresh(),
            &[0x00, 0x01, b'a', 0x84, 0xff, 0xff, 0xff, 0xff]
        ),
        HpackError::HuffmanEos
    );
    assert_eq!(
        decode_err(&mut fresh(), &[0x00, 0x01, b'a', 0x81, 0x18]),
        HpackError::InvalidHuffmanPadding
    );
    assert_eq!(
        decode_err(&mut fresh(), &[0x00, 0x81, 0xff, 0x00]),
        HpackError::InvalidHuffmanPadding
    );
    let mut update = BytesMut::new();
    integer::encode(4097, 5, 0x20, &mut update);
    assert_eq!(
        decode_err(&mut fresh(), &update),
        HpackError::TableSizeUpdateTooLarge {
            requested: 4097,
            max: 4096
        }
    );
    assert_eq!(
        decode_err(&mut fresh(), &[0x82, 0x20]),
        HpackError::TableSizeUpdateNotAtStart
    );
    let mut d = fresh();
    d.set_max_table_size(100);
    assert_eq!(
        decode_err(&mut d, &[0x82]),
        HpackError::TableSizeUpdateMissing { max: 100 }
    );
    let mut d = fresh();
    let mut out = Vec::new();
    assert_eq!(
        d.decode(&hex("82 86 84"), 80, &mut out),
        Err(HpackError::HeaderListTooLarge { limit: 80 })
    );
    assert!(out.is_empty());

    // Only the last one lets the connection live on.
    assert!(HpackError::IntegerOverflow.is_connection_fatal());
    assert!(HpackError::TableSizeUpdateMissing { max: 0 }.is_connection_fatal());
    assert!(!HpackError::HeaderListTooLarge { limit: 1 }.is_connection_fatal());
    assert_eq!(
        HpackError::InvalidIndex(70).to_string(),
        "HPACK index 70 out of range"
    );
}

#[test]
fn size_updates_at_start_shrink_and_evict() {
    let mut d = Decoder::new(4096);
    decode(&mut d, &hex(C3[0].wire)).unwrap();
    assert_eq!(d.table_size(), 57);
    // Two updates in a row are fine: 0 empties the table, then 4096 restores the capacity.
    let out = decode(&mut d, &hex("20 3fe11f 82")).unwrap();
    assert_eq!(pairs(&out), owned(&[(":method", "GET")]));
    assert_eq!((d.table_size(), d.table_max_size()), (0, 4096));
    // An update on its own is a valid (empty) block.
    assert!(decode(&mut d, &hex("3f45")).unwrap().is_empty());
    assert_eq!(d.table_max_size(), 100);
}

#[test]
fn lowered_setting_requires_the_lowest_update() {
    let mut d = Decoder::new(4096);
    d.set_max_table_size(100);
    d.set_max_table_size(4096);
    // Going back up does not cancel the obligation to acknowledge the dip.
    assert_eq!(
        decode_err(&mut d, &hex("3fe11f 82")),
        HpackError::TableSizeUpdateMissing { max: 100 }
    );
    let mut d = Decoder::new(4096);
    d.set_max_table_size(100);
    d.set_max_table_size(4096);
    decode(&mut d, &hex("3f45 3fe11f 82")).unwrap();
    assert_eq!(d.table_max_size(), 4096);
    // Satisfied once; the next block needs nothing.
    decode(&mut d, &hex("82")).unwrap();

    // Lowering to a value the table already respects needs no update.
    let mut d = Decoder::new(4096);
    decode(&mut d, &hex("3f45")).unwrap();
    d.set_max_table_size(200);
    decode(&mut d, &hex("82")).unwrap();
    // An update above the (lowered) maximum is refused.
    let mut d = Decoder::new(4096);
    d.set_max_table_size(100);
    assert_eq!(
        decode_err(&mut d, &hex("3f46")),
        HpackError::TableSizeUpdateTooLarge {
            requested: 101,
            max: 100
        }
    );
    // An empty block does not satisfy it either.
    let mut d = Decoder::new(4096);
    d.set_max_table_size(0);
    assert_eq!(
        decode_err(&mut d, &[]),
        HpackError::TableSizeUpdateMissing { max: 0 }
    );
    decode(&mut d, &hex("20")).unwrap();
}

/// A block inserting `name`/`value` (raw) then referencing it (index 62) `refs` times.
fn bomb(name: &[u8], value_len: usize, refs: usize) -> Bytes {
    let mut b = BytesMut::new();
    b.extend_from_slice(&[0x40]);
    integer::encode(name.len(), 7, 0, &mut b);
    b.extend_from_slice(name);
    integer::encode(value_len, 7, 0, &mut b);
    b.extend_from_slice(&vec![b'A'; value_len]);
    b.extend_from_slice(&vec![0xbe; refs]);
    b.freeze()
}

#[test]
fn hpack_bomb_is_cut_off_and_the_table_survives() {
    let mut d = Decoder::new(4096);
    // One 4 KiB entry (4 + 4060 + 32 = 4096), referenced 10 000 times: 40 MB if expanded.
    let block = bomb(b"bomb", 4060, 10_000);
    let sentinel = Field {
        name: Bytes::from_static(b"earlier"),
        value: Bytes::from_static(b"field"),
        sensitive: false,
    };
    let mut out = vec![sentinel.clone()];
    assert_eq!(
        d.decode(&block, 16 * 1024, &mut out),
        Err(HpackError::HeaderListTooLarge { limit: 16 * 1024 })
    );
    assert_eq!(out, [sentinel]);
    // The insert happened: the table is in sync and the next block can use it.
    assert_eq!(d.table_size(), 4096);
    let mut next = Vec::new();
    d.decode(&hex("be 82"), 1 << 20, &mut next).unwrap();
    assert_eq!(next.len(), 2);
    assert_eq!(next[0].name, "bomb");
    assert_eq!(next[0].value.len(), 4060);
    assert_eq!(next[1].name, ":method");
}

#[test]
fn over_limit_still_validates_and_keeps_inserting() {
    // After the limit, a bad Huffman string is still a (fatal) error.
    let mut d = Decoder::new(4096);
    let mut block = bomb(b"n", 100, 10).to_vec();
    block.extend_from_slice(&[0x00, 0x01, b'a', 0x81, 0x18]);
    let mut out = Vec::new();
    assert_eq!(
        d.decode(&block.into(), 200, &mut out),
        Err(HpackError::InvalidHuffmanPadding)
    );

    // After the limit, literals with indexing are still inserted (Huffman ones too), and a
    // too-large one empties the table without being decoded.
    let mut e = Encoder::new();
    let mut wire = BytesMut::new();
    e.encode(
        [
            (&b"big"[..], &[b'x'; 300][..], false),
            (b"x-one", b"first value", false),
            (b"x-two", b"second value", false),
        ],
        &mut wire,
    );
    let mut d = Decoder::new(4096);
    assert_eq!(
        d.decode(&wire.freeze(), 100, &mut out),
        Err(HpackError::HeaderListTooLarge { limit: 100 })
    );
    assert_eq!(dec_table(&d), enc_table(&e));
    assert_eq!(d.table_size(), e.table_size());

    let mut d = Decoder::new(64);
    let block = bomb(b"n", 100, 0);
    assert_eq!(
        d.decode(&block, 10, &mut out),
        Err(HpackError::HeaderListTooLarge { limit: 10 })
    );
    assert_eq!(d.table_size(), 0);
    // Same, but the too-large value is an invalid Huffman string: still detected.
    let mut d = Decoder::new(64);
    let mut block = vec![0x40, 0x01, b'n', 0xff, 0x00];
    block.extend_from_slice(&[0x18; 127]);
    assert_eq!(
        d.decode(&block.into(), 10, &mut out),
        Err(HpackError::InvalidHuffmanPadding)
    );
    assert!(out.is_empty());
}

#[test]
fn literal_strings_are_slices_of_the_block() {
    let mut d = Decoder::new(4096);
    let block = hex("040c2f73616d706c652f70617468");
    let out = decode(&mut d, &block).unwrap();
    let start = block.as_ptr() as usize;
    let v = out[0].value.as_ptr() as usize;
    assert!(
        v >= start && v < start + block.len(),
        "value points into the block"
    );
}

fn encode_one(e: &mut Encoder, name: &[u8], value: &[u8], sensitive: bool) -> Bytes {
    let mut dst = BytesMut::new();
    e.encode([(name, value, sensitive)], &mut dst);
    dst.freeze()
}

#[test]
fn encoder_policy() {
    let mut e = Encoder::new();
    // Full static match: indexed.
    assert_eq!(to_hex(&encode_one(&mut e, b":method", b"GET", false)), "82");
    // Sensitive or credential fields: never indexed (0001xxxx), not inserted.
    assert_eq!(encode_one(&mut e, b"x-token", b"abc", true)[0] & 0xf0, 0x10);
    assert_eq!(
        encode_one(&mut e, b"authorization", b"Basic", false)[0],
        0x1f
    );
    assert_eq!(
        encode_one(&mut e, b"proxy-authorization", b"x", false)[0],
        0x1f
    );
    assert_eq!(encode_one(&mut e, b"cookie", b"short=1", false)[0], 0x1f);
    assert_eq!(e.table_size(), 0);
    // A sensitive field is never indexed even when it is in a table.
    assert_eq!(encode_one(&mut e, b":method", b"GET", true)[0], 0x12);
    // Long cookies are indexed, then referenced.
    let cookie = b"session=0123456789abcdef0123";
    assert_eq!(encode_one(&mut e, b"cookie", cookie, false)[0], 0x40 | 32);
    assert_eq!(to_hex(&encode_one(&mut e, b"cookie", cookie, false)), "be");
    // More than 3/4 of the table: literal without indexing.
    let big = vec![b'v'; 3100];
    assert_eq!(encode_one(&mut e, b"x-big", &big, false)[0], 0x00);
    assert_eq!(e.table_entries().count(), 1);
    // Name found in the dynamic table only.
    assert_eq!(encode_one(&mut e, b"x-custom", b"1", false)[0], 0x40);
    assert_eq!(
        to_hex(&encode_one(&mut e, b"x-custom", b"2", false))[..2],
        *"7e"
    );
    // Empty names and values are fine.
    let mut d = Decoder::new(4096);
    let wire = encode_one(&mut Encoder::new(), b"", b"", false);
    assert_eq!(to_hex(&wire), "400000");
    assert_eq!(pairs(&decode(&mut d, &wire).unwrap()), owned(&[("", "")]));
}

#[test]
fn encoder_emits_owed_size_updates() {
    let mut e = Encoder::new();
    let first = encode(&mut e, REQ1);
    assert_eq!(
        to_hex(&first[..1]),
        "82",
        "no update at the protocol default"
    );
    // Above our cap: nothing to announce.
    e.set_max_table_size(1 << 20);
    assert_eq!(to_hex(&encode(&mut e, &[])), "");
    // Down and back up between blocks: the lowest, then the final value.
    e.set_max_table_size(100);
    e.set_max_table_size(8192);
    assert_eq!(to_hex(&encode(&mut e, &[])), "3f45 3fe11f".replace(' ', ""));
    assert_eq!(e.table_size(), 57, "the :authority entry fits in 100 bytes");
    // Down to zero.
    e.set_max_table_size(0);
    assert_eq!(to_hex(&encode(&mut e, &[(":method", "GET")])), "2082");
    assert_eq!(e.table_max_size(), 0);
    // Nothing inserted with a zero-size table.
    let wire = encode(&mut e, &[("x-a", "b")]);
    assert_eq!(wire[0], 0x00);
    assert_eq!(e.table_size(), 0);
}

#[test]
fn encoder_and_decoder_stay_in_sync() {
    let mut e = Encoder::new();
    let mut d = Decoder::new(4096);
    let mut x: u32 = 7;
    for block in 0..300 {
        if block % 37 == 36 {
            let size = [0, 64, 300, 4096, 10_000][(block / 37) % 5];
            e.set_max_table_size(size);
            d.set_max_table_size(size.min(4096));
        }
        let mut fields = Vec::new();
        for _ in 0..(block % 9) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let name = format!("x-h{}", (x >> 16) % 13);
            let value = "v".repeat(((x >> 8) % 200) as usize) + &((x >> 20) % 5).to_string();
            fields.push((name, value, x % 11 == 0));
        }
        let mut wire = BytesMut::new();
        e.encode(
            fields
                .iter()
                .map(|(n, v, s)| (n.as_bytes(), v.as_bytes(), *s)),
            &mut wire,
        );
        let out = decode(&mut d, &wire.freeze()).unwrap();
        assert_eq!(out.len(), fields.len());
        for (f, (n, v, s)) in out.iter().zip(&fields) {
            assert_eq!((&f.name[..], &f.value[..]), (n.as_bytes(), v.as_bytes()));
            assert_eq!(f.sensitive, *s);
        }
        assert_eq!(enc_table(&e), dec_table(&d), "block {block}");
        assert_eq!(e.table_size(), d.table_size());
    }
}

#[test]
fn field_size_counts_the_overhead() {
    let f = Field {
        name: Bytes::from_static(b"abc"),
        value: Bytes::from_static(b"de"),
        sensitive: false,
    };
    assert_eq!(f.size(), 37);
}
