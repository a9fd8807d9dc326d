//! Integer representation with an N-bit prefix (RFC 7541 §5.1).
//!
//! Low-level building blocks of the codec, public so a fuzz target can round-trip them.

use bytes::{BufMut, BytesMut};

use super::HpackError;

/// The largest integer [`decode`] accepts.
///
/// Every HPACK integer is an index, a string length or a table size, and HTTP/2 caps all of
/// those well below 2³² (SETTINGS values are 32-bit, frames are at most 2²⁴ bytes). Refusing
/// anything larger keeps later arithmetic far from overflow; §5.1 explicitly allows limits
/// "in value or octet length".
pub const MAX_VALUE: u64 = u32::MAX as u64;

/// At most this many continuation octets: 5 × 7 bits covers [`MAX_VALUE`] for any prefix. A
/// longer run (e.g. endless `0x80` padding octets) is rejected instead of being read forever.
const MAX_CONTINUATION_OCTETS: usize = 5;

/// Appends `value` with an N-bit prefix (`prefix_bits` in 1..=8). The bits of `flags` above the
/// prefix become the high bits of the first octet (the representation's pattern).
pub fn encode(value: usize, prefix_bits: u8, flags: u8, dst: &mut BytesMut) {
    debug_assert!(
        (1..=8).contains(&prefix_bits),
        "prefix of {prefix_bits} bits"
    );
    let prefix_bits = prefix_bits.clamp(1, 8);
    let max_prefix: u8 = u8::MAX >> (8 - prefix_bits);
    let flags = flags & !max_prefix;
    if value < usize::from(max_prefix) {
        // `value < max_prefix <= 255`, so the cast is exact.
        dst.put_u8(flags | value as u8);
        return;
    }
    dst.put_u8(flags | max_prefix);
    let mut rest = value - usize::from(max_prefix);
    while rest >= 0x80 {
        dst.put_u8((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    dst.put_u8(rest as u8);
}

/// Decodes an integer with an N-bit prefix (`prefix_bits` in 1..=8) from the start of `src`,
/// ignoring the bits above the prefix in the first octet. Returns the value and the number of
/// octets it used.
///
/// Errors: [`HpackError::Truncated`] if `src` ends inside the integer,
/// [`HpackError::IntegerOverflow`] above [`MAX_VALUE`] or after too many continuation octets.
pub fn decode(src: &[u8], prefix_bits: u8) -> Result<(usize, usize), HpackError> {
    debug_assert!(
        (1..=8).contains(&prefix_bits),
        "prefix of {prefix_bits} bits"
    );
    let prefix_bits = prefix_bits.clamp(1, 8);
    let max_prefix: u8 = u8::MAX >> (8 - prefix_bits);
    let Some((&first, rest)) = src.split_first() else {
        return Err(HpackError::Truncated);
    };
    let first = first & max_prefix;
    if first < max_prefix {
        return Ok((usize::from(first), 1));
    }
    // At most 5 octets of 7 bits on top of an 8-bit prefix: < 2^36, no u64 overflow possible.
    let mut value = u64::from(max_prefix);
    for (i, &b) in rest.iter().take(MAX_CONTINUATION_OCTETS).enumerate() {
        value += u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if value > MAX_VALUE {
                return Err(HpackError::IntegerOverflow);
            }
            let value = usize::try_from(value).map_err(|_| HpackError::IntegerOverflow)?;
            return Ok((value, i + 2));
        }
    }
    if rest.len() < MAX_CONTINUATION_OCTETS {
        Err(HpackError::Truncated)
    } else {
        Err(HpackError::IntegerOverflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(value: usize, prefix: u8, flags: u8) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode(value, prefix, flags, &mut b);
        b.to_vec()
    }

    #[test]
    fn rfc7541_c_1_1_ten_with_5_bit_prefix() {
        assert_eq!(enc(10, 5, 0), [0x0a]);
        assert_eq!(decode(&[0x0a], 5), Ok((10, 1)));
    }

    #[test]
    fn rfc7541_c_1_2_1337_with_5_bit_prefix() {
        assert_eq!(enc(1337, 5, 0), [0x1f, 0x9a, 0x0a]);
        assert_eq!(decode(&[0x1f, 0x9a, 0x0a], 5), Ok((1337, 3)));
    }

    #[test]
    fn rfc7541_c_1_3_42_at_octet_boundary() {
        assert_eq!(enc(42, 8, 0), [0x2a]);
        assert_eq!(decode(&[0x2a], 8), Ok((42, 1)));
    }

    #[test]
    fn flags_above_the_prefix_are_kept_and_ignored() {
        assert_eq!(enc(3, 7, 0x80), [0x83]);
        assert_eq!(decode(&[0x83], 7), Ok((3, 1)));
        // Flags that overlap the prefix are masked off instead of corrupting the value.
        assert_eq!(enc(0, 4, 0xff), [0xf0]);
    }

    #[test]
    fn prefix_boundaries_round_trip() {
        for prefix in 1..=8u8 {
            let m = (1usize << prefix) - 1;
            for v in [
                0,
                1,
                m - 1,
                m,
                m + 1,
                m + 127,
                m + 128,
                1 << 20,
                u32::MAX as usize,
            ] {
                let bytes = enc(v, prefix, 0);
                assert_eq!(
                    decode(&bytes, prefix),
                    Ok((v, bytes.len())),
                    "{v} / {prefix}"
                );
                // Any strict prefix of the encoding is truncated.
                for cut in 0..bytes.len() {
                    assert_eq!(decode(&bytes[..cut], prefix), Err(HpackError::Truncated));
                }
            }
        }
    }

    #[test]
    fn too_large_values_are_rejected() {
        // 2^32 with a 5-bit prefix.
        let bytes = enc(1 << 32, 5, 0);
        assert_eq!(decode(&bytes, 5), Err(HpackError::IntegerOverflow));
        // Five continuation octets that still continue.
        assert_eq!(
            decode(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 5),
            Err(HpackError::IntegerOverflow)
        );
        // Redundant zero continuations are fine while they fit the octet budget.
        assert_eq!(decode(&[0x1f, 0x80, 0x80, 0x00], 5), Ok((31, 4)));
    }

    #[test]
    fn empty_input_is_truncated() {
        assert_eq!(decode(&[], 7), Err(HpackError::Truncated));
    }
}
