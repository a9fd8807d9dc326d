//! Header block encoding (RFC 7541 §6) and the indexing policy (§7.1).

use bytes::{BufMut, Bytes, BytesMut};

use super::table::{hash_field, hash_name, static_lookup, EncoderTable};
use super::{entry_size, huffman, integer, DEFAULT_TABLE_SIZE};

/// Allocation unit for the strings of table entries (see the decoder's `CHUNK`).
const CHUNK: usize = 4096;

/// `cookie` values shorter than this are sent never-indexed: short cookies are the ones whose
/// value a compression-ratio attack could guess (RFC 7541 §7.1.3).
const MIN_INDEXED_COOKIE: usize = 20;

/// Encodes header blocks for one peer, keeping our side of its decoder's dynamic table.
#[derive(Debug)]
pub struct Encoder {
    table: EncoderTable,
    /// Size updates owed to the peer, as `(lowest, final)` capacity since the last block.
    pending_update: Option<(usize, usize)>,
    /// Chunks holding the strings of inserted entries (the caller's slices are borrowed).
    arena: BytesMut,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder whose table has the protocol's initial size, [`DEFAULT_TABLE_SIZE`]
    /// (RFC 9113 §6.5.2), until [`set_max_table_size`](Self::set_max_table_size) says otherwise.
    pub fn new() -> Self {
        Encoder {
            table: EncoderTable::new(DEFAULT_TABLE_SIZE),
            pending_update: None,
            arena: BytesMut::new(),
        }
    }

    /// The peer's SETTINGS_HEADER_TABLE_SIZE (when we received it). We use
    /// `min(peer_max, DEFAULT_TABLE_SIZE)` (our memory cap), and emit the needed dynamic table
    /// size update(s) at the start of the next block: if the value went down and back up
    /// between blocks, the minimum first, then the final value (§4.2).
    pub fn set_max_table_size(&mut self, peer_max: usize) {
        let size = peer_max.min(DEFAULT_TABLE_SIZE);
        let lowest = self.pending_update.map_or(size, |(low, _)| low.min(size));
        self.pending_update = Some((lowest, size));
    }

    /// The dynamic table's current size (§4.1).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// The dynamic table's capacity as last announced to the peer.
    pub fn table_max_size(&self) -> usize {
        self.table.max_size()
    }

    /// The dynamic table's entries in index order (index 62 first). For tests and diagnostics.
    pub fn table_entries(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> + '_ {
        self.table.iter()
    }

    /// Encodes one header block, appending to `dst`. Each item is `(name, value, sensitive)`.
    ///
    /// Names are passed already lowercase. Policy: full match in static or dynamic table →
    /// indexed; `sensitive`, or name `authorization`/`proxy-authorization`, or `cookie` with
    /// value < 20 bytes → literal never-indexed (§7.1.3); entries too large for the table
    /// (> 3/4 of it) → literal without indexing; otherwise literal with incremental indexing
    /// using a name index when available. Strings are Huffman-coded when that is shorter.
    pub fn encode<'a, I>(&mut self, fields: I, dst: &mut BytesMut)
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8], bool)>,
    {
        self.emit_size_updates(dst);
        for (name, value, sensitive) in fields {
            self.encode_field(name, value, sensitive, dst);
        }
    }

    fn emit_size_updates(&mut self, dst: &mut BytesMut) {
        let Some((lowest, last)) = self.pending_update.take() else {
            return;
        };
        let current = self.table.max_size();
        // The dip only matters if it evicted something the final size would have kept.
        if lowest < current && lowest < last {
            integer::encode(lowest, 5, 0x20, dst);
            self.table.set_max_size(lowest);
        }
        if last != self.table.max_size() {
            integer::encode(last, 5, 0x20, dst);
            self.table.set_max_size(last);
        }
    }

    fn encode_field(&mut self, name: &[u8], value: &[u8], sensitive: bool, dst: &mut BytesMut) {
        // Room for the representation's integers and uncompressed strings: one reservation
        // instead of a capacity check per byte.
        dst.reserve(name.len() + value.len() + 16);

        let never = sensitive
            || name == b"authorization"
            || name == b"proxy-authorization"
            || (name == b"cookie" && value.len() < MIN_INDEXED_COOKIE);

        let static_match = static_lookup(name, value);
        if let Some((index, true)) = static_match {
            if !never {
                integer::encode(index, 7, 0x80, dst);
                return;
            }
        }

        let size = entry_size(name.len(), value.len());
        // Never-indexed fields, and entries over 3/4 of the table (which would flush most of
        // it for one field), are not inserted.
        let may_insert = !never && size <= self.table.max_size() / 4 * 3;
        // The table can offer a full match or a name index; a never-indexed field with a
        // static name can use neither.
        let skip_table = self.table.is_empty() || (never && static_match.is_some());
        let (name_hash, field_hash) = if may_insert || !skip_table {
            let name_hash = hash_name(name);
            (name_hash, hash_field(name_hash, value))
        } else {
            (0, 0)
        };
        let dynamic_match = if skip_table {
            None
        } else {
            self.table.find(name, value, name_hash, field_hash)
        };
        if let Some(m) = dynamic_match {
            if m.full && !never {
                integer::encode(m.index, 7, 0x80, dst);
                return;
            }
        }
        // Prefer the static name: a smaller index, and no dependency on table state.
        let name_index = static_match
            .map(|(i, _)| i)
            .or(dynamic_match.map(|m| m.index))
            .unwrap_or(0);

        if may_insert {
            // §6.2.1 literal with incremental indexing, 6-bit prefix.
            integer::encode(name_index, 6, 0x40, dst);
        } else {
            // §6.2.3 never indexed (0001) or §6.2.2 without indexing (0000), 4-bit prefix.
            integer::encode(name_index, 4, if never { 0x10 } else { 0x00 }, dst);
        }
        if name_index == 0 {
            encode_string(name, dst);
        }
        encode_string(value, dst);
        if may_insert {
            let (name, value) = self.intern(name, value);
            self.table.insert(name, value, name_hash, field_hash);
        }
    }

    /// Copies an entry's strings into the table's chunks.
    fn intern(&mut self, name: &[u8], value: &[u8]) -> (Bytes, Bytes) {
        let need = name.len() + value.len();
        if need == 0 {
            return (Bytes::new(), Bytes::new());
        }
        if self.arena.capacity() < need {
            self.arena.reserve(need.max(CHUNK));
        }
        self.arena.extend_from_slice(name);
        self.arena.extend_from_slice(value);
        let both = self.arena.split().freeze();
        (both.slice(..name.len()), both.slice(name.len()..))
    }
}

/// A string literal (§5.2), Huffman-coded when that is strictly shorter.
fn encode_string(s: &[u8], dst: &mut BytesMut) {
    let huffman_len = huffman::encoded_len(s);
    if huffman_len < s.len() {
        integer::encode(huffman_len, 7, 0x80, dst);
        dst.reserve(huffman_len);
        huffman::encode_reserved(s, dst);
    } else {
        integer::encode(s.len(), 7, 0x00, dst);
        dst.put_slice(s);
    }
}
