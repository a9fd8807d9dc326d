//! Header block decoding (RFC 7541 §3, §6).

use bytes::{Bytes, BytesMut};

use super::table::{static_entry, DynamicTable, STATIC_LEN};
use super::{entry_size, huffman, integer, Field, HpackError};

/// Allocation unit for table entries and Huffman output: small enough that a chunk kept alive
/// by one surviving entry wastes little, large enough to amortise the allocation over many
/// strings.
const CHUNK: usize = 4096;

/// Decodes header blocks from one peer, keeping its dynamic table.
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// The SETTINGS_HEADER_TABLE_SIZE we advertised: the ceiling for size updates.
    max_allowed: usize,
    /// The lowest SETTINGS_HEADER_TABLE_SIZE since the last block, if it went below the
    /// table's capacity: the next block must start with a size update at or below it (§4.2).
    required_update: Option<usize>,
    /// Chunks holding the strings of entries inserted into the table (see the module docs for
    /// why they are copies and not slices of the block).
    arena: BytesMut,
    /// Chunks holding Huffman-decoded strings of fields that are not inserted.
    scratch: BytesMut,
}

/// How a literal field representation affects the table (§6.2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Indexing {
    Incremental,
    Without,
    Never,
}

/// A string literal located in the block, not decoded yet.
#[derive(Clone, Copy)]
struct Literal {
    huffman: bool,
    start: usize,
    end: usize,
}

impl Literal {
    fn encoded_len(self) -> usize {
        self.end - self.start
    }

    /// No decoding can be shorter than this.
    fn min_len(self) -> usize {
        if self.huffman {
            huffman::min_decoded_len(self.encoded_len())
        } else {
            self.encoded_len()
        }
    }

    /// Room to reserve for decoding it.
    fn max_len(self) -> usize {
        if self.huffman {
            huffman::max_decoded_len(self.encoded_len())
        } else {
            self.encoded_len()
        }
    }

    fn raw(self, block: &[u8]) -> &[u8] {
        block.get(self.start..self.end).unwrap_or_default()
    }

    /// Appends the decoded string to `dst`.
    fn decode_into(self, block: &[u8], dst: &mut BytesMut) -> Result<(), HpackError> {
        let raw = self.raw(block);
        if self.huffman {
            huffman::decode(raw, dst)
        } else {
            dst.extend_from_slice(raw);
            Ok(())
        }
    }

    fn validate(self, block: &[u8]) -> Result<(), HpackError> {
        if self.huffman {
            huffman::validate(self.raw(block))
        } else {
            Ok(())
        }
    }
}

/// Where a literal field's name comes from.
enum Name {
    Static(&'static [u8]),
    Dynamic(Bytes),
    Literal(Literal),
}

impl Name {
    fn min_len(&self) -> usize {
        match self {
            Name::Static(n) => n.len(),
            Name::Dynamic(n) => n.len(),
            Name::Literal(l) => l.min_len(),
        }
    }
}

/// The cursor and the header-list accounting of the block being decoded.
struct Block<'a> {
    bytes: &'a Bytes,
    pos: usize,
    /// Sum of `Field::size()` of the fields appended so far.
    list_size: usize,
    limit: usize,
    /// The limit was hit: nothing more is appended or materialised for the caller.
    over: bool,
}

impl Block<'_> {
    fn rest(&self) -> &[u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    fn int(&mut self, prefix_bits: u8) -> Result<usize, HpackError> {
        let (value, used) = integer::decode(self.rest(), prefix_bits)?;
        self.pos += used;
        Ok(value)
    }

    /// A string literal (§5.2): checks its length against the input before anything is
    /// allocated for it.
    fn string(&mut self) -> Result<Literal, HpackError> {
        let huffman = self.rest().first().is_some_and(|b| b & 0x80 != 0);
        let len = self.int(7)?;
        let start = self.pos;
        let end = start.checked_add(len).ok_or(HpackError::Truncated)?;
        if end > self.bytes.len() {
            return Err(HpackError::Truncated);
        }
        self.pos = end;
        Ok(Literal {
            huffman,
            start,
            end,
        })
    }

    /// Whether a field of at least `min_size` can still be appended; flips to over-limit
    /// mode when it cannot.
    fn may_admit(&mut self, min_size: usize) -> bool {
        if !self.over && self.list_size.saturating_add(min_size) > self.limit {
            self.over = true;
        }
        !self.over
    }

    /// Accounts a field of `size` and says whether to append it.
    fn admit(&mut self, size: usize) -> bool {
        if self.may_admit(size) {
            self.list_size += size;
            true
        } else {
            false
        }
    }
}

/// Reserves room for `additional` bytes, a whole chunk at a time.
fn reserve(buf: &mut BytesMut, additional: usize) {
    if buf.capacity() - buf.len() < additional {
        buf.reserve(additional.max(CHUNK));
    }
}

/// Takes what was written to `buf` as a `Bytes` (no allocation for an empty string).
fn take(buf: &mut BytesMut) -> Bytes {
    if buf.is_empty() {
        Bytes::new()
    } else {
        buf.split().freeze()
    }
}

impl Decoder {
    /// `max_table_size`: the SETTINGS_HEADER_TABLE_SIZE we advertise (upper bound for the
    /// peer's table size updates). It is also the table's initial capacity, so until the peer
    /// has acknowledged a value below the protocol default, construct with
    /// [`DEFAULT_TABLE_SIZE`](super::DEFAULT_TABLE_SIZE) and lower it with
    /// [`set_max_table_size`](Self::set_max_table_size) on the acknowledgement.
    pub fn new(max_table_size: usize) -> Self {
        Decoder {
            table: DynamicTable::new(max_table_size),
            max_allowed: max_table_size,
            required_update: None,
            arena: BytesMut::new(),
            scratch: BytesMut::new(),
        }
    }

    /// Our advertised SETTINGS_HEADER_TABLE_SIZE changed (call when the peer ACKed it).
    ///
    /// If it is now below the table's capacity, the peer's encoder must shrink its table and
    /// say so at the start of its next block; that block is rejected with
    /// [`HpackError::TableSizeUpdateMissing`] otherwise.
    pub fn set_max_table_size(&mut self, max: usize) {
        self.max_allowed = max;
        if max < self.table.max_size() {
            self.required_update = Some(self.required_update.map_or(max, |m| m.min(max)));
        }
    }

    /// The dynamic table's current size (§4.1).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// The dynamic table's capacity, as set by the peer's last size update.
    pub fn table_max_size(&self) -> usize {
        self.table.max_size()
    }

    /// The dynamic table's entries in index order (index 62 first, i.e. newest first). For
    /// tests and diagnostics.
    pub fn table_entries(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> + '_ {
        self.table.iter().map(|(n, v)| (n, v))
    }

    /// Decodes one complete header block into `out` (appending). `max_list_size` is the cap on
    /// the decoded header list measured as the sum of [`Field::size()`]; it is enforced WHILE
    /// decoding (HPACK bomb defence, CVE-2016-6581): once the running size would exceed it,
    /// nothing more is appended to `out` and no more strings are decoded for it (Huffman
    /// strings are only validated), but the block is decoded to its end so the dynamic table
    /// stays in sync (inserts still happen, bounded by the table size); then `out` is
    /// truncated back to its length at entry and `Err(HeaderListTooLarge { limit })` returned.
    ///
    /// Dynamic-table size updates are only legal at the start of a block (else
    /// `TableSizeUpdateNotAtStart`) and must be <= the max (else `TableSizeUpdateTooLarge`). If
    /// our max was lowered since the last block, RFC 7541 §4.2 requires the peer to send a
    /// size update at the start of the next block (else `TableSizeUpdateMissing`).
    ///
    /// On any error `out` is left as it was. Every error except `HeaderListTooLarge` leaves
    /// the decoder out of sync with the peer ([`HpackError::is_connection_fatal`]).
    pub fn decode(
        &mut self,
        block: &Bytes,
        max_list_size: usize,
        out: &mut Vec<Field>,
    ) -> Result<(), HpackError> {
        let start = out.len();
        let mut b = Block {
            bytes: block,
            pos: 0,
            list_size: 0,
            limit: max_list_size,
            over: false,
        };
        let result = self.decode_block(&mut b, out);
        if result.is_err() || b.over {
            out.truncate(start);
        }
        result?;
        if b.over {
            return Err(HpackError::HeaderListTooLarge {
                limit: max_list_size,
            });
        }
        Ok(())
    }

    fn decode_block(&mut self, b: &mut Block<'_>, out: &mut Vec<Field>) -> Result<(), HpackError> {
        // A failed block may have left half a string behind.
        self.arena.clear();
        self.scratch.clear();

        // §4.2: size updates come first, each within our advertised maximum.
        while let Some(&first) = b.rest().first() {
            if first & 0xe0 != 0x20 {
                break;
            }
            let size = b.int(5)?;
            if size > self.max_allowed {
                return Err(HpackError::TableSizeUpdateTooLarge {
                    requested: size,
                    max: self.max_allowed,
                });
            }
            if self.required_update.is_some_and(|m| size <= m) {
                self.required_update = None;
            }
            self.table.set_max_size(size);
        }
        if let Some(max) = self.required_update {
            return Err(HpackError::TableSizeUpdateMissing { max });
        }

        while let Some(&first) = b.rest().first() {
            if first & 0x80 != 0 {
                // §6.1 indexed header field.
                let index = b.int(7)?;
                self.indexed(index, b, out)?;
            } else if first & 0x40 != 0 {
                // §6.2.1 literal with incremental indexing.
                let index = b.int(6)?;
                self.literal(index, Indexing::Incremental, b, out)?;
            } else if first & 0x20 != 0 {
                return Err(HpackError::TableSizeUpdateNotAtStart);
            } else {
                // §6.2.2 without indexing (0000), §6.2.3 never indexed (0001).
                let mode = if first & 0x10 != 0 {
                    Indexing::Never
                } else {
                    Indexing::Without
                };
                let index = b.int(4)?;
                self.literal(index, mode, b, out)?;
            }
        }
        Ok(())
    }

    fn indexed(
        &mut self,
        index: usize,
        b: &mut Block<'_>,
        out: &mut Vec<Field>,
    ) -> Result<(), HpackError> {
        if let Some(&(name, value)) = static_entry(index) {
            if b.admit(entry_size(name.len(), value.len())) {
                out.push(Field {
                    name: Bytes::from_static(name),
                    value: Bytes::from_static(value),
                    sensitive: false,
                });
            }
            return Ok(());
        }
        let (name, value) = index
            .checked_sub(STATIC_LEN + 1)
            .and_then(|age| self.table.get(age))
            .ok_or(HpackError::InvalidIndex(index))?;
        if b.admit(entry_size(name.len(), value.len())) {
            out.push(Field {
                name: name.clone(),
                value: value.clone(),
                sensitive: false,
            });
        }
        Ok(())
    }

    fn literal(
        &mut self,
        index: usize,
        mode: Indexing,
        b: &mut Block<'_>,
        out: &mut Vec<Field>,
    ) -> Result<(), HpackError> {
        let name = if index == 0 {
            Name::Literal(b.string()?)
        } else if let Some(&(name, _)) = static_entry(index) {
            Name::Static(name)
        } else {
            let (name, _) = index
                .checked_sub(STATIC_LEN + 1)
                .and_then(|age| self.table.get(age))
                .ok_or(HpackError::InvalidIndex(index))?;
            Name::Dynamic(name.clone())
        };
        let value = b.string()?;
        let min_size = entry_size(name.min_len(), value.min_len());
        let block: &[u8] = b.bytes;

        if mode == Indexing::Incremental {
            let wanted = b.may_admit(min_size);
            if !wanted && min_size > self.table.max_size() {
                // Nobody needs the strings: the entry cannot fit, which empties the table
                // (§4.4), and the caller gets nothing. They must still be valid.
                if let Name::Literal(l) = name {
                    l.validate(block)?;
                }
                value.validate(block)?;
                self.table.clear();
                return Ok(());
            }
            let (name, value) = self.materialize_entry(block, name, value)?;
            if wanted && b.admit(entry_size(name.len(), value.len())) {
                out.push(Field {
                    name: name.clone(),
                    value: value.clone(),
                    sensitive: false,
                });
            }
            self.table.insert(name, value);
            return Ok(());
        }

        if !b.may_admit(min_size) {
            if let Name::Literal(l) = name {
                l.validate(block)?;
            }
            return value.validate(block);
        }
        let name = match name {
            Name::Static(n) => Bytes::from_static(n),
            Name::Dynamic(n) => n,
            Name::Literal(l) => self.transient(b.bytes, l)?,
        };
        let value = self.transient(b.bytes, value)?;
        if b.admit(entry_size(name.len(), value.len())) {
            out.push(Field {
                name,
                value,
                sensitive: mode == Indexing::Never,
            });
        }
        Ok(())
    }

    /// The strings of a field that goes into the table, copied or decoded into the table's
    /// own chunks.
    fn materialize_entry(
        &mut self,
        block: &[u8],
        name: Name,
        value: Literal,
    ) -> Result<(Bytes, Bytes), HpackError> {
        let name_room = match &name {
            Name::Static(_) => 0,
            Name::Dynamic(n) => n.len(),
            Name::Literal(l) => l.max_len(),
        };
        reserve(&mut self.arena, name_room.saturating_add(value.max_len()));
        let name = match name {
            Name::Static(n) => Bytes::from_static(n),
            Name::Dynamic(n) => {
                // Copied so the new entry does not keep the older entry's chunk alive.
                self.arena.extend_from_slice(&n);
                take(&mut self.arena)
            }
            Name::Literal(l) => {
                l.decode_into(block, &mut self.arena)?;
                take(&mut self.arena)
            }
        };
        value.decode_into(block, &mut self.arena)?;
        Ok((name, take(&mut self.arena)))
    }

    /// A string of a field that is not inserted: a slice of the block, or Huffman-decoded
    /// into the scratch chunks.
    fn transient(&mut self, block: &Bytes, l: Literal) -> Result<Bytes, HpackError> {
        if !l.huffman {
            return Ok(block.slice(l.start..l.end));
        }
        reserve(&mut self.scratch, l.max_len());
        l.decode_into(block, &mut self.scratch)?;
        Ok(take(&mut self.scratch))
    }
}
