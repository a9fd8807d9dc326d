//! The HPACK Huffman code (RFC 7541 §5.2, Appendix B).
//!
//! Public so that fuzz targets can round-trip it; the codec itself calls it through
//! [`super::Encoder`] and [`super::Decoder`].
//!
//! Decoding reads the input through a 64-bit bit buffer and looks the next 12 bits up in a
//! table built at compile time, which yields one or two whole symbols per lookup (ASCII
//! letters and digits have 5–7 bit codes). Codes longer than 12 bits (control characters,
//! bytes ≥ 0x80, a few punctuation marks) go through a canonical-code search instead: the
//! RFC's code is canonical, so each length's codes are a contiguous numeric range.

use bytes::{BufMut, BytesMut};

use super::HpackError;

/// `(code, bit length)` of each symbol, 0..=255 then EOS (256); RFC 7541 Appendix B.
#[rustfmt::skip]
const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28), // 00 01 02 03
    (0xfffffe4, 28), (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28), // 04 05 06 07
    (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28), // 08 09 0a 0b
    (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28), // 0c 0d 0e 0f
    (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28), // 10 11 12 13
    (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28), // 14 15 16 17
    (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28), // 18 19 1a 1b
    (0xffffff8, 28), (0xffffff9, 28), (0xffffffa, 28), (0xffffffb, 28), // 1c 1d 1e 1f
    (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12), // ' ' ! " #
    (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11), // $ % & '
    (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11), // ( ) * +
    (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6), // , - . /
    (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6), // 0 1 2 3
    (0x1a, 6), (0x1b, 6), (0x1c, 6), (0x1d, 6), // 4 5 6 7
    (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8), // 8 9 : ;
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10), // < = > ?
    (0x1ffa, 13), (0x21, 6), (0x5d, 7), (0x5e, 7), // @ A B C
    (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7), // D E F G
    (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7), // H I J K
    (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7), // L M N O
    (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7), // P Q R S
    (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7), // T U V W
    (0xfc, 8), (0x73, 7), (0xfd, 8), (0x1ffb, 13), // X Y Z [
    (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6), // \ ] ^ _
    (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5), // ` a b c
    (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6), // d e f g
    (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7), // h i j k
    (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5), // l m n o
    (0x2b, 6), (0x76, 7), (0x2c, 6), (0x8, 5), // p q r s
    (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7), // t u v w
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15), // x y z {
    (0x7fc, 11), (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28), // | } ~ 7f
    (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20), // 80 81 82 83
    (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23), // 84 85 86 87
    (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23), // 88 89 8a 8b
    (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23), // 8c 8d 8e 8f
    (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23), // 90 91 92 93
    (0xffffee, 24), (0x7fffe1, 23), (0x7fffe2, 23), (0x7fffe3, 23), // 94 95 96 97
    (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23), // 98 99 9a 9b
    (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24), // 9c 9d 9e 9f
    (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22), // a0 a1 a2 a3
    (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21), // a4 a5 a6 a7
    (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24), // a8 a9 aa ab
    (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23), (0x7fffec, 23), // ac ad ae af
    (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21), // b0 b1 b2 b3
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23), // b4 b5 b6 b7
    (0xfffea, 20), (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22), // b8 b9 ba bb
    (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23), // bc bd be bf
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19), // c0 c1 c2 c3
    (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25), // c4 c5 c6 c7
    (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27), // c8 c9 ca cb
    (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25), // cc cd ce cf
    (0x7fff2, 19), (0x1fffe3, 21), (0x3ffffe6, 26), (0x7ffffe0, 27), // d0 d1 d2 d3
    (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24), // d4 d5 d6 d7
    (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26), // d8 d9 da db
    (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27), // dc dd de df
    (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21), // e0 e1 e2 e3
    (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23), // e4 e5 e6 e7
    (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25), (0x1ffffef, 25), // e8 e9 ea eb
    (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23), // ec ed ee ef
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26), // f0 f1 f2 f3
    (0x7ffffe7, 27), (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27), // f4 f5 f6 f7
    (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27), // f8 f9 fa fb
    (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26), // fc fd fe ff
    (0x3fffffff, 30), // EOS
];

/// Index of the EOS symbol in [`CODES`].
const EOS: u16 = 256;

/// The longest code (EOS); also the most bits one symbol can need from the bit buffer.
const MAX_CODE_LEN: u32 = 30;

/// Bits looked up at once by the decoder's fast path.
const FAST_BITS: u32 = 12;

/// For every 12-bit window, the whole codes it starts with. Entry layout:
///
/// | bits   | meaning                                                        |
/// |--------|----------------------------------------------------------------|
/// | 0..8   | first symbol                                                   |
/// | 8..16  | second symbol (if any)                                         |
/// | 16..20 | bit length of the first symbol                                 |
/// | 20..24 | bits used by all decoded symbols                               |
/// | 24..26 | symbols decoded: 1 or 2, or 0 if the next code is > 12 bits    |
///
/// 16 KiB, so it stays in L1 while a block is decoded. A `static` so that there is exactly
/// one copy of it.
static FAST: [u32; 1 << FAST_BITS] = build_fast();

/// The canonical-code description used for codes longer than [`FAST_BITS`] and checked by
/// the tests against [`CODES`]: codes of length `l` are the numbers
/// `first[l] .. first[l] + count[l]`, and map in order to `symbols[offset[l]..]`.
struct Canonical {
    first: [u32; MAX_CODE_LEN as usize + 1],
    count: [u32; MAX_CODE_LEN as usize + 1],
    offset: [u16; MAX_CODE_LEN as usize + 1],
    symbols: [u16; 257],
}

static CANONICAL: Canonical = build_canonical();

const fn fill(table: &mut [u32; 1 << FAST_BITS], start: usize, n: usize, entry: u32) {
    let mut i = 0;
    while i < n {
        table[start + i] = entry;
        i += 1;
    }
}

const fn build_fast() -> [u32; 1 << FAST_BITS] {
    let mut table = [0u32; 1 << FAST_BITS];
    let mut a = 0;
    while a < 256 {
        let (code_a, len_a) = CODES[a];
        let len_a = len_a as u32;
        if len_a <= FAST_BITS {
            let rem = FAST_BITS - len_a;
            let base = (code_a << rem) as usize;
            let one = a as u32 | (len_a << 16) | (len_a << 20) | (1 << 24);
            fill(&mut table, base, 1 << rem, one);
            // Where a second whole code fits behind the first, decode both at once. Codes are
            // prefix-free, so these sub-ranges never overlap.
            let mut b = 0;
            while b < 256 {
                let (code_b, len_b) = CODES[b];
                let len_b = len_b as u32;
                if len_b <= rem {
                    let rem2 = rem - len_b;
                    let start = base | (code_b << rem2) as usize;
                    let two = a as u32
                        | ((b as u32) << 8)
                        | (len_a << 16)
                        | ((len_a + len_b) << 20)
                        | (2 << 24);
                    fill(&mut table, start, 1 << rem2, two);
                }
                b += 1;
            }
        }
        a += 1;
    }
    table
}

const fn build_canonical() -> Canonical {
    const N: usize = MAX_CODE_LEN as usize + 1;
    let mut count = [0u32; N];
    let mut s = 0;
    while s < 257 {
        count[CODES[s].1 as usize] += 1;
        s += 1;
    }
    let mut first = [0u32; N];
    let mut offset = [0u16; N];
    let mut code = 0u32;
    let mut off = 0u16;
    let mut len = 1;
    while len < N {
        code = (code + count[len - 1]) << 1;
        first[len] = code;
        offset[len] = off;
        off += count[len] as u16;
        len += 1;
    }
    let mut symbols = [0u16; 257];
    let mut next = offset;
    s = 0;
    while s < 257 {
        let len = CODES[s].1 as usize;
        symbols[next[len] as usize] = s as u16;
        next[len] += 1;
        s += 1;
    }
    Canonical {
        first,
        count,
        offset,
        symbols,
    }
}

/// Number of bytes [`encode`] appends for `src`.
pub fn encoded_len(src: &[u8]) -> usize {
    let bits: u64 = src
        .iter()
        .map(|&b| u64::from(CODES[usize::from(b)].1))
        .sum();
    usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX)
}

/// Appends the Huffman coding of `src` to `dst`, padded with the high bits of EOS.
pub fn encode(src: &[u8], dst: &mut BytesMut) {
    dst.reserve(encoded_len(src));
    encode_reserved(src, dst);
}

/// [`encode`] for callers that already reserved [`encoded_len`] bytes.
pub(crate) fn encode_reserved(src: &[u8], dst: &mut BytesMut) {
    // Right-aligned pending bits: at most 31 waiting plus one code of at most 30 fits in 64.
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    // Whole words go through a small stack buffer: one `extend_from_slice` per 64 output bytes
    // instead of a capacity check per word.
    let mut buf = [0u8; 64];
    let mut n = 0;
    for &b in src {
        let (code, len) = CODES[usize::from(b)];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        if bits >= 32 {
            bits -= 32;
            let word = ((acc >> bits) as u32).to_be_bytes();
            match buf.get_mut(n..n + 4) {
                Some(slot) => slot.copy_from_slice(&word),
                None => {
                    dst.extend_from_slice(&buf);
                    buf[..4].copy_from_slice(&word);
                    n = 0;
                }
            }
            n += 4;
        }
    }
    dst.extend_from_slice(buf.get(..n).unwrap_or_default());
    if bits > 0 {
        let pad = (8 - bits % 8) % 8;
        acc = (acc << pad) | ((1 << pad) - 1);
        bits += pad;
        while bits > 0 {
            bits -= 8;
            dst.put_u8((acc >> bits) as u8);
        }
    }
}

/// An upper bound on the decoded length of `encoded_len` Huffman bytes, plus the two bytes of
/// slack the decoder's two-symbol store needs. Every code is at least 5 bits.
pub(crate) fn max_decoded_len(encoded_len: usize) -> usize {
    // (len / 5) * 8 + 8 >= len * 8 / 5 + 2 and cannot overflow.
    (encoded_len / 5).saturating_mul(8).saturating_add(8)
}

/// A lower bound on the decoded length of `encoded_len` Huffman bytes: every code is at most
/// 30 bits and at most 7 bits are padding.
pub(crate) fn min_decoded_len(encoded_len: usize) -> usize {
    encoded_len.saturating_mul(8).saturating_sub(7) / 30
}

/// Appends the decoding of the Huffman string `src` to `dst`. On error `dst` is left as it was.
///
/// Errors: [`HpackError::HuffmanEos`] if the EOS symbol appears,
/// [`HpackError::InvalidHuffmanPadding`] if the string does not end on a code boundary
/// followed by at most 7 one bits.
pub fn decode(src: &[u8], dst: &mut BytesMut) -> Result<(), HpackError> {
    let base = dst.len();
    dst.resize(base.saturating_add(max_decoded_len(src.len())), 0);
    let (_, out) = dst.split_at_mut(base);
    match run::<true>(src, out) {
        Ok(n) => {
            dst.truncate(base + n);
            Ok(())
        }
        Err(e) => {
            dst.truncate(base);
            Err(e)
        }
    }
}

/// Checks that `src` is a valid Huffman string without producing output (used once a block
/// is over its size limit: the string must still be validated, but not stored).
pub fn validate(src: &[u8]) -> Result<(), HpackError> {
    run::<false>(src, &mut []).map(|_| ())
}

/// Decodes a code longer than `start_len - 1` bits from the top of `acc`: the symbol and its
/// length. The code is complete (every 30-bit string starts with some code), so the search
/// always ends by length 30.
#[inline]
fn decode_long(acc: u64, start_len: u32) -> (u16, u32) {
    let c = &CANONICAL;
    let mut len = start_len;
    while len <= MAX_CODE_LEN {
        let l = len as usize;
        let code = (acc >> (64 - len)) as u32;
        // Below `first[l]` this is the prefix of a longer code (wraps to a huge number).
        let d = code.wrapping_sub(c.first[l]);
        if d < c.count[l] {
            let i = usize::from(c.offset[l]) + d as usize;
            return (c.symbols.get(i).copied().unwrap_or(EOS), len);
        }
        len += 1;
    }
    (EOS, MAX_CODE_LEN)
}

/// The decoder. With `EMIT` false it only validates and `out` may be empty; with `EMIT` true
/// `out` must hold [`max_decoded_len`] bytes. Returns the number of bytes written.
#[inline(always)]
fn run<const EMIT: bool>(src: &[u8], out: &mut [u8]) -> Result<usize, HpackError> {
    // Input bits not yet decoded, left-aligned. Bits below the top `bits` are either zero or
    // copies of input bytes not yet counted (the 8-byte refill loads more than it counts and
    // the next refill ORs identical values over them).
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    let mut pos = 0usize;
    let mut o = 0usize;
    loop {
        if let Some(word) = src.get(pos..).and_then(<[u8]>::first_chunk::<8>) {
            acc |= u64::from_be_bytes(*word) >> bits;
            let take = (63 - bits) / 8;
            pos += take as usize;
            bits += take * 8;
        } else {
            while bits <= 56 {
                let Some(&b) = src.get(pos) else { break };
                acc |= u64::from(b) << (56 - bits);
                pos += 1;
                bits += 8;
            }
        }
        let exhausted = pos >= src.len();
        while bits >= FAST_BITS {
            let e = FAST[(acc >> (64 - FAST_BITS)) as usize];
            let count = e >> 24;
            if count != 0 {
                if EMIT {
                    // Always store two bytes; `o` only advances by `count`.
                    match out.get_mut(o..o + 2) {
                        Some([x, y]) => {
                            *x = e as u8;
                            *y = (e >> 8) as u8;
                        }
                        _ => return Err(HpackError::InvalidHuffmanPadding),
                    }
                }
                o += count as usize;
                let used = (e >> 20) & 0xf;
                acc <<= used;
                bits -= used;
            } else {
                if bits < MAX_CODE_LEN && !exhausted {
                    break; // refill first: the code may not be in the buffer yet
                }
                let (sym, used) = decode_long(acc, FAST_BITS + 1);
                if used > bits {
                    return Err(HpackError::InvalidHuffmanPadding);
                }
                if sym == EOS {
                    return Err(HpackError::HuffmanEos);
                }
                if EMIT {
                    match out.get_mut(o) {
                        Some(x) => *x = sym as u8,
                        None => return Err(HpackError::InvalidHuffmanPadding),
                    }
                }
                o += 1;
                acc <<= used;
                bits -= used;
            }
        }
        if exhausted {
            break;
        }
    }
    // The input is exhausted and fewer than 12 bits remain: short codes, then the padding,
    // which must be fewer than 8 bits and all ones (the start of EOS), §5.2.
    while bits > 0 {
        if bits < 8 && acc >> (64 - bits) == (1u64 << bits) - 1 {
            break;
        }
        let e = FAST[(acc >> (64 - FAST_BITS)) as usize];
        let len = (e >> 16) & 0xf;
        if e >> 24 == 0 || len > bits {
            return Err(HpackError::InvalidHuffmanPadding);
        }
        if EMIT {
            match out.get_mut(o) {
                Some(x) => *x = e as u8,
                None => return Err(HpackError::InvalidHuffmanPadding),
            }
        }
        o += 1;
        acc <<= len;
        bits -= len;
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn enc(src: &[u8]) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode(src, &mut b);
        assert_eq!(b.len(), encoded_len(src));
        b.to_vec()
    }

    fn dec(src: &[u8]) -> Result<Vec<u8>, HpackError> {
        let mut b = BytesMut::from(&b"prefix"[..]);
        let r = decode(src, &mut b);
        assert_eq!(
            validate(src),
            r.clone().map(|_| ()),
            "validate agrees with decode"
        );
        match r {
            Ok(()) => {
                assert_eq!(&b[..6], b"prefix");
                Ok(b[6..].to_vec())
            }
            Err(e) => {
                assert_eq!(&b[..], b"prefix", "dst restored on error");
                Err(e)
            }
        }
    }

    /// The simplest possible decoder, bit by bit against the code list.
    fn reference_decode(src: &[u8]) -> Result<Vec<u8>, HpackError> {
        let bit = |i: usize| (src[i / 8] >> (7 - i % 8)) & 1;
        let total = src.len() * 8;
        let mut out = Vec::new();
        let mut i = 0;
        'next: while i < total {
            let mut code = 0u32;
            for len in 1..=30u8 {
                if i + usize::from(len) > total {
                    break;
                }
                code = (code << 1) | u32::from(bit(i + usize::from(len) - 1));
                if let Some(sym) = CODES.iter().position(|&c| c == (code, len)) {
                    if sym == 256 {
                        return Err(HpackError::HuffmanEos);
                    }
                    out.push(sym as u8);
                    i += usize::from(len);
                    continue 'next;
                }
            }
            // No whole code left: the rest must be < 8 bits of ones.
            let rest = total - i;
            if rest < 8 && (i..total).all(|j| bit(j) == 1) {
                return Ok(out);
            }
            return Err(HpackError::InvalidHuffmanPadding);
        }
        Ok(out)
    }

    #[test]
    fn code_is_complete_and_canonical() {
        // Kraft equality: the code leaves no bit string undecodable.
        let kraft: u64 = CODES.iter().map(|&(_, l)| 1u64 << (30 - l)).sum();
        assert_eq!(kraft, 1 << 30);
        // The canonical description reproduces every code.
        for (sym, &(code, len)) in CODES.iter().enumerate() {
            let acc = u64::from(code) << (64 - u32::from(len));
            assert_eq!(decode_long(acc, 1), (sym as u16, u32::from(len)), "{sym}");
        }
        assert_eq!(CODES[256], (0x3fff_ffff, 30));
    }

    #[test]
    fn rfc7541_appendix_c_strings() {
        let cases: &[(&str, &str)] = &[
            ("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"),
            ("no-cache", "a8eb10649cbf"),
            ("custom-key", "25a849e95ba97d7f"),
            ("custom-value", "25a849e95bb8e8b4bf"),
            ("302", "6402"),
            ("307", "640eff"),
            ("private", "aec3771a4b"),
            ("gzip", "9bd9ab"),
            (
                "Mon, 21 Oct 2013 20:13:21 GMT",
                "d07abe941054d444a8200595040b8166e082a62d1bff",
            ),
            ("https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"),
            (
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
                "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
            ),
        ];
        for &(plain, coded) in cases {
            assert_eq!(enc(plain.as_bytes()), hex(coded), "{plain}");
            assert_eq!(dec(&hex(coded)).unwrap(), plain.as_bytes(), "{plain}");
        }
    }

    #[test]
    fn every_symbol_and_pair_round_trips() {
        for a in 0..=255u8 {
            assert_eq!(dec(&enc(&[a])).unwrap(), [a]);
            for b in 0..=255u8 {
                let s = [a, b, a];
                assert_eq!(dec(&enc(&s)).unwrap(), s);
            }
        }
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        assert_eq!(dec(&enc(&all)).unwrap(), all);
        assert_eq!(dec(&[]).unwrap(), b"");
    }

    #[test]
    fn eos_in_string_is_rejected() {
        // 'a' (00011) then EOS (30 ones) then 5 bits of padding: 40 bits.
        let mut v: u64 = 0b00011;
        v = (v << 30) | 0x3fff_ffff;
        v = (v << 5) | 0b11111;
        let bytes = v.to_be_bytes()[3..].to_vec();
        assert_eq!(dec(&bytes), Err(HpackError::HuffmanEos));
        assert_eq!(reference_decode(&bytes), Err(HpackError::HuffmanEos));
        // EOS alone, padded to 32 bits.
        assert_eq!(dec(&[0xff; 4]), Err(HpackError::HuffmanEos));
    }

    #[test]
    fn bad_padding_is_rejected() {
        // 8 or more bits of ones.
        assert_eq!(dec(&[0xff]), Err(HpackError::InvalidHuffmanPadding));
        assert_eq!(dec(&[0x1f, 0xff]), Err(HpackError::InvalidHuffmanPadding));
        // Padding that is not all ones: 'a' = 00011 then 000.
        assert_eq!(dec(&[0x18]), Err(HpackError::InvalidHuffmanPadding));
        // A long code cut off at the end of the input.
        let mut cut = enc(&[0x80; 3]);
        cut.pop();
        assert_eq!(dec(&cut), Err(HpackError::InvalidHuffmanPadding));
        // Valid: 'a' then 111.
        assert_eq!(dec(&[0x1f]).unwrap(), b"a");
    }

    #[test]
    fn matches_reference_decoder_on_pseudo_random_input() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..4000 {
            let len = (next() % 24) as usize;
            let bias = round % 3;
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next() as u8;
                    // Bias towards ones so long codes, EOS and padding get exercised.
                    match bias {
                        0 => r,
                        1 => r | 0xe0,
                        _ => r | (next() as u8),
                    }
                })
                .collect();
            assert_eq!(dec(&input), reference_decode(&input), "{input:02x?}");
        }
    }

    #[test]
    fn length_bounds_hold() {
        for s in [
            &b""[..],
            b"a",
            b"0000000000",
            b"\xff\xfe\xfd",
            b"hello world",
        ] {
            let n = encoded_len(s);
            assert!(min_decoded_len(n) <= s.len());
            assert!(max_decoded_len(n) >= s.len() + 2);
        }
    }
}
