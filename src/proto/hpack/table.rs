//! The static table (RFC 7541 Appendix A) and the two dynamic tables (§2.3.2, §4): the
//! decoder's, which only needs lookups by index, and the encoder's, which also needs lookups
//! by content.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use bytes::Bytes;

use super::entry_size;

/// Number of static table entries; dynamic indices start right after.
pub(crate) const STATIC_LEN: usize = 61;

/// RFC 7541 Appendix A, index 1 first.
pub(crate) static STATIC_TABLE: [(&[u8], &[u8]); STATIC_LEN] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The static entry at 1-based `index`, if it is one.
pub(crate) fn static_entry(index: usize) -> Option<&'static (&'static [u8], &'static [u8])> {
    STATIC_TABLE.get(index.checked_sub(1)?)
}

/// Static table lookup for the encoder: `(index, value matched too)`.
///
/// Dispatches on the name's length first so that a name is compared against at most six
/// candidates of the same length (instead of scanning 61 entries), then on the value for the
/// few names that have values in the table.
pub(crate) fn static_lookup(name: &[u8], value: &[u8]) -> Option<(usize, bool)> {
    let name_only = |i| Some((i, false));
    let with_values = |first: usize, values: &[&[u8]]| match values.iter().position(|v| *v == value)
    {
        Some(k) => Some((first + k, true)),
        None => Some((first, false)),
    };
    match name.len() {
        3 => match name {
            b"age" => name_only(21),
            b"via" => name_only(60),
            _ => None,
        },
        4 => match name {
            b"date" => name_only(33),
            b"etag" => name_only(34),
            b"from" => name_only(37),
            b"host" => name_only(38),
            b"link" => name_only(45),
            b"vary" => name_only(59),
            _ => None,
        },
        5 => match name {
            b":path" => with_values(4, &[b"/", b"/index.html"]),
            b"allow" => name_only(22),
            b"range" => name_only(50),
            _ => None,
        },
        6 => match name {
            b"accept" => name_only(19),
            b"cookie" => name_only(32),
            b"expect" => name_only(35),
            b"server" => name_only(54),
            _ => None,
        },
        7 => match name {
            b":method" => with_values(2, &[b"GET", b"POST"]),
            b":scheme" => with_values(6, &[b"http", b"https"]),
            b":status" => with_values(8, &[b"200", b"204", b"206", b"304", b"400", b"404", b"500"]),
            b"expires" => name_only(36),
            b"referer" => name_only(51),
            b"refresh" => name_only(52),
            _ => None,
        },
        8 => match name {
            b"if-match" => name_only(39),
            b"if-range" => name_only(42),
            b"location" => name_only(46),
            _ => None,
        },
        10 => match name {
            b":authority" => name_only(1),
            b"set-cookie" => name_only(55),
            b"user-agent" => name_only(58),
            _ => None,
        },
        11 => match name {
            b"retry-after" => name_only(53),
            _ => None,
        },
        12 => match name {
            b"content-type" => name_only(31),
            b"max-forwards" => name_only(47),
            _ => None,
        },
        13 => match name {
            b"accept-ranges" => name_only(18),
            b"authorization" => name_only(23),
            b"cache-control" => name_only(24),
            b"content-range" => name_only(30),
            b"if-none-match" => name_only(41),
            b"last-modified" => name_only(44),
            _ => None,
        },
        14 => match name {
            b"accept-charset" => name_only(15),
            b"content-length" => name_only(28),
            _ => None,
        },
        15 => match name {
            b"accept-encoding" => with_values(16, &[b"gzip, deflate"]),
            b"accept-language" => name_only(17),
            _ => None,
        },
        16 => match name {
            b"content-encoding" => name_only(26),
            b"content-language" => name_only(27),
            b"content-location" => name_only(29),
            b"www-authenticate" => name_only(61),
            _ => None,
        },
        17 => match name {
            b"if-modified-since" => name_only(40),
            b"transfer-encoding" => name_only(57),
            _ => None,
        },
        18 => match name {
            b"proxy-authenticate" => name_only(48),
            _ => None,
        },
        19 => match name {
            b"content-disposition" => name_only(25),
            b"if-unmodified-since" => name_only(43),
            b"proxy-authorization" => name_only(49),
            _ => None,
        },
        25 => match name {
            b"strict-transport-security" => name_only(56),
            _ => None,
        },
        27 => match name {
            b"access-control-allow-origin" => name_only(20),
            _ => None,
        },
        _ => None,
    }
}

/// The decoder's dynamic table: entries by age, newest first, so HPACK index `62 + i` is
/// `entries[i]`.
#[derive(Debug)]
pub(crate) struct DynamicTable {
    entries: VecDeque<(Bytes, Bytes)>,
    /// Sum of the entries' sizes (§4.1).
    size: usize,
    /// Capacity, as last set by a size update (§4.2).
    max_size: usize,
}

impl DynamicTable {
    pub(crate) fn new(max_size: usize) -> Self {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            max_size,
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry `age` insertions old (0 = newest).
    pub(crate) fn get(&self, age: usize) -> Option<&(Bytes, Bytes)> {
        self.entries.get(age)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(Bytes, Bytes)> {
        self.entries.iter()
    }

    /// §4.4: evicts from the oldest end until the new entry fits; an entry larger than the
    /// whole table just empties it.
    pub(crate) fn insert(&mut self, name: Bytes, value: Bytes) {
        let size = entry_size(name.len(), value.len());
        if size > self.max_size {
            self.clear();
            return;
        }
        while self.size + size > self.max_size {
            self.evict_oldest();
        }
        self.size += size;
        self.entries.push_front((name, value));
    }

    /// Empties the table: also what inserting an entry larger than the table does (§4.4), for
    /// the decoder to call when it knows an entry cannot fit without materialising it.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.size = 0;
    }

    /// §4.3: a new capacity evicts until the contents fit.
    pub(crate) fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size;
        while self.size > max_size {
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        match self.entries.pop_back() {
            Some((n, v)) => self.size -= entry_size(n.len(), v.len()),
            None => self.size = 0,
        }
    }
}

/// Hashes a header name. Collisions only cost compression: every hit is verified against the
/// stored bytes.
pub(crate) fn hash_name(name: &[u8]) -> u64 {
    hash_bytes(0x243f_6a88_85a3_08d3, name)
}

/// Hashes a whole field, seeded with its name's hash.
pub(crate) fn hash_field(name_hash: u64, value: &[u8]) -> u64 {
    hash_bytes(name_hash ^ 0x1319_8a2e_0370_7344, value)
}

/// FxHash-style word mixing with a final avalanche. Every input byte lands in some 8-byte
/// (or, for short inputs, 4-byte) load; the partial words at the end are read as windows
/// that overlap bytes already mixed, which is cheaper than assembling them byte by byte.
fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
    let word = |at: usize| {
        bytes
            .get(at..at.saturating_add(8))
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let half = |at: usize| {
        bytes
            .get(at..at.saturating_add(4))
            .and_then(|w| <[u8; 4]>::try_from(w).ok())
            .map_or(0, |w| u64::from(u32::from_le_bytes(w)))
    };
    let n = bytes.len();
    let mut h = (seed ^ n as u64).wrapping_mul(K);
    if n >= 8 {
        let body = n - 8;
        let mut at = 0;
        while at + 8 <= body {
            h = mix(h, word(at));
            at += 8;
        }
        if at < body {
            // The 1..7 bytes before the last word: the window ending where that word starts
            // (or the first 8 bytes) contains them.
            h = mix(h, word(n.saturating_sub(16)));
        }
        h = mix(h, word(body));
    } else if n >= 4 {
        h = mix(h, half(0) | (half(n - 4) << 32));
    } else {
        h = mix(h, bytes.iter().fold(0u64, |w, &b| (w << 8) | u64::from(b)));
    }
    h ^= h >> 32;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 29)
}

/// A hasher for keys that already are good hashes.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Hash → insertion number of the newest entry with that hash.
type HashIndex = HashMap<u64, u64, BuildHasherDefault<IdentityHasher>>;

#[derive(Debug)]
struct EncoderEntry {
    name: Bytes,
    value: Bytes,
    name_hash: u64,
    field_hash: u64,
}

/// The encoder's dynamic table: like [`DynamicTable`], plus hash indices from a field's and a
/// name's hash to the newest entry with it, so that finding a match costs two hash lookups
/// instead of a scan of the table.
#[derive(Debug)]
pub(crate) struct EncoderTable {
    entries: VecDeque<EncoderEntry>,
    size: usize,
    max_size: usize,
    /// Entries ever inserted; the newest entry's insertion number is `inserted - 1`.
    inserted: u64,
    by_field: HashIndex,
    by_name: HashIndex,
}

/// A dynamic-table match for the encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DynamicMatch {
    /// HPACK index (62 or more).
    pub(crate) index: usize,
    /// The value matched too.
    pub(crate) full: bool,
}

impl EncoderTable {
    pub(crate) fn new(max_size: usize) -> Self {
        EncoderTable {
            entries: VecDeque::new(),
            size: 0,
            max_size,
            inserted: 0,
            by_field: HashIndex::default(),
            by_name: HashIndex::default(),
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.entries.iter().map(|e| (&e.name, &e.value))
    }

    /// The entry with insertion number `id`, and its age (0 = newest), if still present.
    fn by_id(&self, id: u64) -> Option<(usize, &EncoderEntry)> {
        let age = usize::try_from(self.inserted.checked_sub(1)?.checked_sub(id)?).ok()?;
        Some((age, self.entries.get(age)?))
    }

    /// The best match: the newest entry with the same name and value, else the newest entry
    /// with the same name.
    pub(crate) fn find(
        &self,
        name: &[u8],
        value: &[u8],
        name_hash: u64,
        field_hash: u64,
    ) -> Option<DynamicMatch> {
        if let Some((age, e)) = self
            .by_field
            .get(&field_hash)
            .and_then(|&id| self.by_id(id))
        {
            if e.value == value && e.name == name {
                return Some(DynamicMatch {
                    index: STATIC_LEN + 1 + age,
                    full: true,
                });
            }
        }
        let (age, e) = self
            .by_name
            .get(&name_hash)
            .and_then(|&id| self.by_id(id))?;
        (e.name == name).then_some(DynamicMatch {
            index: STATIC_LEN + 1 + age,
            full: false,
        })
    }

    /// Same eviction rules as [`DynamicTable::insert`].
    pub(crate) fn insert(&mut self, name: Bytes, value: Bytes, name_hash: u64, field_hash: u64) {
        let size = entry_size(name.len(), value.len());
        if size > self.max_size {
            while !self.entries.is_empty() {
                self.evict_oldest();
            }
            return;
        }
        while self.size + size > self.max_size {
            self.evict_oldest();
        }
        let id = self.inserted;
        self.inserted += 1;
        self.size += size;
        self.by_field.insert(field_hash, id);
        self.by_name.insert(name_hash, id);
        self.entries.push_front(EncoderEntry {
            name,
            value,
            name_hash,
            field_hash,
        });
    }

    pub(crate) fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size;
        while self.size > max_size {
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        let id = self.inserted - self.entries.len() as u64;
        let Some(e) = self.entries.pop_back() else {
            self.size = 0;
            return;
        };
        self.size -= entry_size(e.name.len(), e.value.len());
        // Entries leave oldest first, so an index entry still pointing here has no older
        // entry to fall back to. One that a newer entry took over is left alone.
        if self.by_field.get(&e.field_hash) == Some(&id) {
            self.by_field.remove(&e.field_hash);
        }
        if self.by_name.get(&e.name_hash) == Some(&id) {
            self.by_name.remove(&e.name_hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_lookup_agrees_with_the_table() {
        for (i, &(name, value)) in STATIC_TABLE.iter().enumerate() {
            let index = i + 1;
            let (found, full) = static_lookup(name, value).expect("every static name is found");
            if value.is_empty() {
                assert_eq!(
                    (found, full),
                    (index, false),
                    "{}",
                    String::from_utf8_lossy(name)
                );
            } else {
                assert_eq!(
                    (found, full),
                    (index, true),
                    "{}",
                    String::from_utf8_lossy(name)
                );
            }
            // The name-only index is the first entry with that name.
            let first = STATIC_TABLE.iter().position(|e| e.0 == name).unwrap() + 1;
            assert_eq!(static_lookup(name, b"\x00other"), Some((first, false)));
        }
        assert_eq!(static_lookup(b"x-custom", b""), None);
        assert_eq!(static_lookup(b"", b""), None);
        assert_eq!(
            static_lookup(b"Date", b""),
            None,
            "names are matched exactly"
        );
        assert_eq!(static_entry(0), None);
        assert_eq!(static_entry(62), None);
        assert_eq!(
            static_entry(61),
            Some(&(&b"www-authenticate"[..], &b""[..]))
        );
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn eviction_follows_section_4_4() {
        // Each "nK"/"vKxx" entry is 2 + 4 + 32 = 38 bytes.
        let mut t = DynamicTable::new(100);
        t.insert(b("n1"), b("v1xx"));
        t.insert(b("n2"), b("v2xx"));
        assert_eq!((t.len(), t.size()), (2, 76));
        t.insert(b("n3"), b("v3xx")); // evicts n1
        assert_eq!((t.len(), t.size()), (2, 76));
        assert_eq!(t.get(0).unwrap().0, "n3");
        assert_eq!(t.get(1).unwrap().0, "n2");
        // Exactly filling the table is allowed.
        t.insert(b("n4"), Bytes::from(vec![b'x'; 66]));
        assert_eq!(t.size(), 100);
        assert_eq!(t.len(), 1);
        // An entry larger than the table empties it and is not added.
        t.insert(b("n5"), Bytes::from(vec![b'x'; 100]));
        assert_eq!((t.len(), t.size()), (0, 0));
        // Lowering the capacity evicts; zero empties.
        t.insert(b("n6"), b("v6xx"));
        t.insert(b("n7"), b("v7xx"));
        t.set_max_size(50);
        assert_eq!((t.len(), t.size()), (1, 38));
        assert_eq!(t.get(0).unwrap().0, "n7");
        t.set_max_size(0);
        assert_eq!((t.len(), t.size()), (0, 0));
        t.insert(b(""), b(""));
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn encoder_table_finds_newest_and_forgets_evicted() {
        let mut t = EncoderTable::new(120);
        let ins = |t: &mut EncoderTable, n: &str, v: &str| {
            let nh = hash_name(n.as_bytes());
            t.insert(b(n), b(v), nh, hash_field(nh, v.as_bytes()));
        };
        let find = |t: &EncoderTable, n: &str, v: &str| {
            let nh = hash_name(n.as_bytes());
            t.find(n.as_bytes(), v.as_bytes(), nh, hash_field(nh, v.as_bytes()))
                .map(|m| (m.index, m.full))
        };
        ins(&mut t, "a", "1"); // 34 bytes
        ins(&mut t, "b", "2");
        ins(&mut t, "a", "3");
        assert_eq!(find(&t, "a", "3"), Some((62, true)));
        assert_eq!(find(&t, "b", "2"), Some((63, true)));
        assert_eq!(find(&t, "a", "1"), Some((64, true)));
        assert_eq!(
            find(&t, "a", "9"),
            Some((62, false)),
            "newest entry with the name"
        );
        assert_eq!(find(&t, "c", "1"), None);
        ins(&mut t, "c", "4"); // evicts a=1
        assert_eq!(find(&t, "a", "1"), Some((63, false)));
        assert_eq!(find(&t, "c", "4"), Some((62, true)));
        t.set_max_size(34);
        assert_eq!(find(&t, "a", "3"), None);
        assert_eq!(find(&t, "b", "2"), None);
        assert_eq!(find(&t, "c", "4"), Some((62, true)));
        assert_eq!(t.size(), 34);
        // Too large for the table: empties it.
        ins(&mut t, "d", "0123456789");
        assert!(t.is_empty());
        assert_eq!(find(&t, "c", "4"), None);
    }

    #[test]
    fn hash_covers_every_byte() {
        for len in 0..40 {
            let name: Vec<u8> = (0..len as u8).map(|i| b'a' + i % 26).collect();
            let base = hash_name(&name);
            for i in 0..len {
                let mut v = name.clone();
                v[i] ^= 1;
                assert_ne!(hash_name(&v), base, "len {len} byte {i}");
            }
            let mut longer = name.clone();
            longer.push(0);
            assert_ne!(hash_name(&longer), base, "len {len} + NUL");
        }
    }

    #[test]
    fn hash_collisions_cost_only_compression() {
        // Force every entry onto the same hashes: lookups must still verify the bytes.
        let mut t = EncoderTable::new(4096);
        t.insert(b("x"), b("1"), 7, 7);
        t.insert(b("y"), b("2"), 7, 7);
        assert_eq!(
            t.find(b"y", b"2", 7, 7).map(|m| (m.index, m.full)),
            Some((62, true))
        );
        assert_eq!(t.find(b"x", b"1", 7, 7), None, "shadowed, never wrong");
        assert_eq!(t.find(b"x", b"2", 7, 7), None);
    }
}
