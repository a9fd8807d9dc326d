//! HPACK `Decoder` on a sequence of header blocks that share one dynamic table.
//!
//! Input: `[cap][table][records...]`. The decoded header-list cap is `64 + 16 * cap` bytes
//! (small, so the HPACK-bomb limit is hit often); the table size we advertise is
//! `32 * table` (0..8160; 128 gives the default 4096). Each record starts with a big-endian
//! `u16`: with the high bit set it lowers or raises our advertised table size to the low 15
//! bits (as a SETTINGS change the peer has acknowledged); otherwise it is the length of the
//! block that follows (clamped to what is left).
//!
//! A second decoder runs the same blocks without a list cap. Checks: a decoded list never
//! exceeds the cap; an error leaves the output untouched; the capped decoder's output equals
//! the uncapped one's whenever it succeeds, and both dynamic tables stay identical even for
//! over-limit blocks (the block is still decoded to its end); errors other than
//! `HeaderListTooLarge` are the same for both and end the sequence (context lost).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sallyport::proto::hpack::{Decoder, Field, HpackError};

fn list_size(fields: &[Field]) -> usize {
    fields.iter().map(Field::size).sum()
}

fn same_tables(a: &Decoder, b: &Decoder) -> bool {
    a.table_size() == b.table_size()
        && a.table_max_size() == b.table_max_size()
        && a.table_entries().eq(b.table_entries())
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let cap = 64 + 16 * usize::from(data[0]);
    let table = 32 * usize::from(data[1]);
    let input = Bytes::copy_from_slice(&data[2..]);
    let mut capped = Decoder::new(table);
    let mut full = Decoder::new(table);
    let mut out = Vec::new();
    let mut all = Vec::new();
    let mut at = 0;
    while at + 2 <= input.len() {
        let word = u16::from_be_bytes([input[at], input[at + 1]]);
        at += 2;
        if word & 0x8000 != 0 {
            let size = usize::from(word & 0x7fff);
            capped.set_max_table_size(size);
            full.set_max_table_size(size);
            continue;
        }
        let end = (at + usize::from(word)).min(input.len());
        let block = input.slice(at..end);
        at = end;

        out.clear();
        all.clear();
        let r = capped.decode(&block, cap, &mut out);
        let r_all = full.decode(&block, usize::MAX, &mut all);
        assert!(capped.table_size() <= capped.table_max_size());
        match (&r, &r_all) {
            (Ok(()), Ok(())) => {
                assert!(
                    list_size(&out) <= cap,
                    "list of {} over cap {cap}",
                    list_size(&out)
                );
                assert_eq!(out, all, "capped and uncapped decoders disagree");
            }
            (Err(HpackError::HeaderListTooLarge { limit }), Ok(())) => {
                assert_eq!(*limit, cap);
                assert!(out.is_empty(), "output left behind by an over-limit block");
                assert!(list_size(&all) > cap, "rejected a list within the cap");
            }
            (Err(e), Err(e_all)) => {
                assert!(
                    out.is_empty() && all.is_empty(),
                    "output left behind by {e}"
                );
                assert_eq!(e, e_all, "capped and uncapped decoders fail differently");
                assert!(e.is_connection_fatal());
                return;
            }
            _ => panic!("capped {r:?} vs uncapped {r_all:?} on {block:02x?}"),
        }
        assert!(
            same_tables(&capped, &full),
            "dynamic tables diverged after an over-limit block"
        );
    }
});
