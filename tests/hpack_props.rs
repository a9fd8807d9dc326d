//! Property tests for the HPACK codec: round trips across many blocks sharing a context, the
//! Huffman code, and decoding hostile input.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use sallyport::proto::hpack::{huffman, integer, Decoder, Encoder, Field, HpackError};

type Input = (Vec<u8>, Vec<u8>, bool);

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::sample::select(vec![
            &b":method"[..],
            b":path",
            b":status",
            b"cookie",
            b"authorization",
            b"accept-encoding",
            b"x-custom",
            b"x-other",
            b"",
        ])
        .prop_map(<[u8]>::to_vec),
        2 => "[a-z-]{1,12}".prop_map(String::into_bytes),
        1 => vec(any::<u8>(), 0..20),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::sample::select(vec![&b"GET"[..], b"/", b"200", b"gzip, deflate", b""])
            .prop_map(<[u8]>::to_vec),
        3 => "[a-z0-9=;/ ]{0,30}".prop_map(String::into_bytes),
        2 => vec(any::<u8>(), 0..64),
        1 => vec(any::<u8>(), 0..3500),
    ]
}

fn field() -> impl Strategy<Value = Input> {
    (name(), value(), prop::bool::weighted(0.1))
}

/// Between blocks, sometimes a new SETTINGS_HEADER_TABLE_SIZE (including above our cap).
fn table_size() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        6 => Just(None),
        1 => prop::sample::select(vec![0usize, 1, 33, 64, 256, 4096, 65536]).prop_map(Some),
        1 => (0usize..6000).prop_map(Some),
    ]
}

fn blocks() -> impl Strategy<Value = Vec<(Option<usize>, Vec<Input>)>> {
    vec((table_size(), vec(field(), 0..12)), 1..12)
}

/// What our encoder sends never-indexed besides the fields marked sensitive.
fn never_indexed(name: &[u8], value: &[u8], sensitive: bool) -> bool {
    sensitive
        || name == b"authorization"
        || name == b"proxy-authorization"
        || (name == b"cookie" && value.len() < 20)
}

fn encode(e: &mut Encoder, fields: &[Input]) -> Bytes {
    let mut dst = BytesMut::new();
    e.encode(
        fields.iter().map(|(n, v, s)| (&n[..], &v[..], *s)),
        &mut dst,
    );
    dst.freeze()
}

fn tables_agree(e: &Encoder, d: &Decoder) -> bool {
    e.table_entries().eq(d.table_entries()) && e.table_size() == d.table_size()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip_across_blocks(blocks in blocks()) {
        let mut e = Encoder::new();
        let mut d = Decoder::new(4096);
        for (i, (size, fields)) in blocks.iter().enumerate() {
            if let Some(size) = *size {
                e.set_max_table_size(size);
                d.set_max_table_size(size);
            }
            let wire = encode(&mut e, fields);
            let mut out = Vec::new();
            d.decode(&wire, usize::MAX, &mut out)
                .map_err(|err| TestCaseError::fail(format!("block {i}: {err}")))?;
            prop_assert_eq!(out.len(), fields.len());
            for (f, (n, v, s)) in out.iter().zip(fields) {
                prop_assert_eq!(&f.name[..], &n[..]);
                prop_assert_eq!(&f.value[..], &v[..]);
                prop_assert_eq!(f.sensitive, never_indexed(n, v, *s));
            }
            prop_assert!(tables_agree(&e, &d), "block {}: tables diverged", i);
            prop_assert!(e.table_size() <= 4096);
        }
    }

    /// The list limit never desynchronises the table: a block over the limit is refused, and
    /// the next blocks still decode.
    #[test]
    fn list_limit_keeps_tables_in_sync(blocks in blocks(), limits in vec(0usize..3000, 12)) {
        let mut e = Encoder::new();
        let mut d = Decoder::new(4096);
        for (i, (size, fields)) in blocks.iter().enumerate() {
            if let Some(size) = *size {
                e.set_max_table_size(size);
                d.set_max_table_size(size);
            }
            let wire = encode(&mut e, fields);
            let limit = limits[i % limits.len()];
            let total: usize = fields.iter().map(|(n, v, _)| n.len() + v.len() + 32).sum();
            let mut out = Vec::new();
            match d.decode(&wire, limit, &mut out) {
                Ok(()) => prop_assert!(total <= limit),
                Err(HpackError::HeaderListTooLarge { limit: l }) => {
                    prop_assert_eq!(l, limit);
                    prop_assert!(total > limit);
                    prop_assert!(out.is_empty());
                }
                Err(err) => return Err(TestCaseError::fail(format!("block {i}: {err}"))),
            }
            prop_assert!(tables_agree(&e, &d), "block {}: tables diverged", i);
        }
    }

    #[test]
    fn huffman_round_trip(s in vec(any::<u8>(), 0..600)) {
        let mut coded = BytesMut::new();
        huffman::encode(&s, &mut coded);
        prop_assert_eq!(coded.len(), huffman::encoded_len(&s));
        let mut back = BytesMut::from(&b"xy"[..]);
        huffman::decode(&coded, &mut back).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back[..2], b"xy");
        prop_assert_eq!(&back[2..], &s[..]);
        prop_assert!(huffman::validate(&coded).is_ok());
    }

    #[test]
    fn huffman_decode_never_panics(s in vec(any::<u8>(), 0..200)) {
        let mut out = BytesMut::new();
        let r = huffman::decode(&s, &mut out);
        prop_assert_eq!(r.is_ok(), huffman::validate(&s).is_ok());
        if r.is_ok() {
            // Whatever decodes re-encodes to the same bytes (the code is prefix-free and the
            // padding is fixed).
            let mut again = BytesMut::new();
            huffman::encode(&out, &mut again);
            prop_assert_eq!(&again[..], &s[..]);
        } else {
            prop_assert!(out.is_empty());
        }
    }

    #[test]
    fn integer_round_trip(v in 0usize..=u32::MAX as usize, prefix in 1u8..=8, flags in any::<u8>()) {
        let mut b = BytesMut::new();
        integer::encode(v, prefix, flags, &mut b);
        let mask = (1u16 << prefix) as u8;
        prop_assert_eq!(b[0] & !(mask.wrapping_sub(1)), flags & !(mask.wrapping_sub(1)));
        prop_assert_eq!(integer::decode(&b, prefix), Ok((v, b.len())));
    }

    #[test]
    fn decoding_garbage_never_panics_or_exceeds_the_limit(
        warmup in vec(field(), 0..8),
        garbage in vec(any::<u8>(), 0..400),
        limit in 0usize..5000,
    ) {
        let mut d = Decoder::new(4096);
        let mut e = Encoder::new();
        let mut out = Vec::new();
        d.decode(&encode(&mut e, &warmup), usize::MAX, &mut out).unwrap();
        check_hostile(&mut d, Bytes::from(garbage), limit)?;
    }

    #[test]
    fn decoding_mutated_blocks_never_panics(
        fields in vec(field(), 1..10),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        limit in 0usize..20000,
    ) {
        let mut e = Encoder::new();
        let mut wire = encode(&mut e, &fields).to_vec();
        for (at, x) in flips {
            let i = at.index(wire.len());
            wire[i] ^= x;
        }
        let mut d = Decoder::new(4096);
        check_hostile(&mut d, Bytes::from(wire), limit)?;
    }
}

/// Decodes `block` with `limit`: `out` must come back untouched on error, and within the
/// limit on success.
fn check_hostile(d: &mut Decoder, block: Bytes, limit: usize) -> Result<(), TestCaseError> {
    let sentinel = Field {
        name: Bytes::from_static(b"before"),
        value: Bytes::new(),
        sensitive: false,
    };
    let mut out = vec![sentinel.clone()];
    match d.decode(&block, limit, &mut out) {
        Ok(()) => {
            prop_assert_eq!(&out[0], &sentinel);
            let size: usize = out[1..].iter().map(Field::size).sum();
            prop_assert!(size <= limit, "{} > {}", size, limit);
        }
        Err(_) => prop_assert_eq!(out, vec![sentinel]),
    }
    prop_assert!(d.table_size() <= d.table_max_size());
    Ok(())
}
