//! HPACK header compression (RFC 7541).
//!
//! * [`Decoder`] turns one complete header block into a list of [`Field`]s and keeps the
//!   peer's dynamic table in sync. It enforces the decoded header-list limit *while* decoding
//!   (the HPACK bomb, CVE-2016-6581) and the table-size-update rules of RFC 7541 §4.2 / §6.3.
//! * [`Encoder`] turns `(name, value, sensitive)` triples into a header block.
//! * [`huffman`] and [`integer`] are the two primitive codings (§5.2, §5.1), public so fuzz
//!   targets can round-trip them directly.
//!
//! # Cost model
//!
//! Decoded names and values are [`Bytes`]: a literal that is not Huffman-coded and not
//! inserted into the table is a slice of the input block (no copy), a static-table reference
//! is a `Bytes::from_static` and a dynamic-table reference is a reference-count increment.
//! Huffman output and table entries are carved out of chunk allocations, so a block costs a
//! handful of allocations rather than one per field.
//!
//! Entries *inserted* into the decoder's table are copied into the table's own chunks instead
//! of pointing into the input block: a slice would pin the whole block (which can be far larger
//! than the table) for as long as the entry lives, letting a peer make every 32-byte entry
//! hold a 64 KiB block alive. Copying keeps the memory behind the table close to its
//! advertised size.

mod decoder;
mod encoder;
pub mod huffman;
pub mod integer;
mod table;

#[cfg(test)]
mod tests;

use std::fmt;

use bytes::Bytes;

pub use decoder::Decoder;
pub use encoder::Encoder;

/// Default SETTINGS_HEADER_TABLE_SIZE.
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// Per-entry overhead counted by RFC 7541 §4.1 on top of the name and value lengths.
pub const ENTRY_OVERHEAD: usize = 32;

/// A decoded header field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The header name, as sent (HPACK does not check case or token syntax).
    pub name: Bytes,
    /// The header value, as sent.
    pub value: Bytes,
    /// Sent as "never indexed" (RFC 7541 §6.2.3): must be re-encoded the same way by intermediaries.
    pub sensitive: bool,
}

impl Field {
    /// The field's size as RFC 7541 §4.1 counts it: name length + value length + 32. This is
    /// also the unit of SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2).
    pub fn size(&self) -> usize {
        entry_size(self.name.len(), self.value.len())
    }
}

/// `name_len + value_len + 32`, saturating so that no length can make it wrap.
pub(crate) fn entry_size(name_len: usize, value_len: usize) -> usize {
    name_len
        .saturating_add(value_len)
        .saturating_add(ENTRY_OVERHEAD)
}

/// Everything that can go wrong while decoding a header block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HpackError {
    /// An integer (§5.1) is larger than 2³²−1 or uses more continuation octets than such a
    /// value needs.
    IntegerOverflow,
    /// The block ends in the middle of an integer or a string literal.
    Truncated,
    /// An indexed name or field refers to index 0 or past the end of the static plus dynamic
    /// table; carries the index received.
    InvalidIndex(usize),
    /// A Huffman-coded string contains the EOS symbol, which §5.2 forbids.
    HuffmanEos,
    /// A Huffman-coded string ends with more than 7 bits of padding, with padding that is not
    /// all ones, or in the middle of a code (§5.2).
    InvalidHuffmanPadding,
    /// A dynamic table size update asks for more than the SETTINGS_HEADER_TABLE_SIZE we
    /// advertised (§6.3).
    TableSizeUpdateTooLarge {
        /// The size the peer asked for.
        requested: usize,
        /// Our advertised maximum.
        max: usize,
    },
    /// A dynamic table size update follows a header field representation; §4.2 only allows
    /// them at the start of a block.
    TableSizeUpdateNotAtStart,
    /// We lowered SETTINGS_HEADER_TABLE_SIZE below the table's size and the next block did not
    /// start with a size update at or below the lowest value (§4.2).
    TableSizeUpdateMissing {
        /// The size the peer's update had to be at or below.
        max: usize,
    },
    /// The decoded header list is larger than the caller's limit. The block was still decoded
    /// to its end, so the dynamic table is in sync and only the stream has to be refused.
    HeaderListTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
}

impl HpackError {
    /// False only for `HeaderListTooLarge`: the decoder finished the block and its dynamic
    /// table is still in sync, so the connection can survive (stream error / 431). Every other
    /// error means the compression context is lost: connection error COMPRESSION_ERROR.
    pub fn is_connection_fatal(&self) -> bool {
        !matches!(self, HpackError::HeaderListTooLarge { .. })
    }
}

impl fmt::Display for HpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HpackError::IntegerOverflow => f.write_str("HPACK integer too large"),
            HpackError::Truncated => f.write_str("HPACK block truncated"),
            HpackError::InvalidIndex(i) => write!(f, "HPACK index {i} out of range"),
            HpackError::HuffmanEos => f.write_str("EOS symbol inside a Huffman string"),
            HpackError::InvalidHuffmanPadding => f.write_str("invalid Huffman padding"),
            HpackError::TableSizeUpdateTooLarge { requested, max } => write!(
                f,
                "dynamic table size update to {requested} exceeds the maximum {max}"
            ),
            HpackError::TableSizeUpdateNotAtStart => {
                f.write_str("dynamic table size update after a header field")
            }
            HpackError::TableSizeUpdateMissing { max } => write!(
                f,
                "expected a dynamic table size update to at most {max} at the start of the block"
            ),
            HpackError::HeaderListTooLarge { limit } => {
                write!(f, "decoded header list exceeds {limit} bytes")
            }
        }
    }
}

impl std::error::Error for HpackError {}
