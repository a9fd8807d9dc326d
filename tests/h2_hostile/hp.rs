//! HPACK written by hand (RFC 7541), for exact control over the peer's dynamic table.

/// §5.1 integer with an N-bit prefix; `pattern` holds the bits above the prefix.
pub fn int(dst: &mut Vec<u8>, value: usize, prefix: u8, pattern: u8) {
    let max = (1usize << prefix) - 1;
    if value < max {
        dst.push(pattern | value as u8);
        return;
    }
    dst.push(pattern | max as u8);
    let mut rest = value - max;
    while rest >= 0x80 {
        dst.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    dst.push(rest as u8);
}

fn string(dst: &mut Vec<u8>, s: &[u8]) {
    int(dst, s.len(), 7, 0);
    dst.extend_from_slice(s);
}

/// §6.2.2 literal without indexing, new name: leaves the dynamic table alone.
pub fn lit(dst: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    dst.push(0x00);
    string(dst, name);
    string(dst, value);
}

/// §6.2.1 literal with incremental indexing, new name: becomes dynamic index 62.
pub fn insert(dst: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    dst.push(0x40);
    string(dst, name);
    string(dst, value);
}

/// §6.1 indexed field.
pub fn indexed(dst: &mut Vec<u8>, index: usize) {
    int(dst, index, 7, 0x80);
}

/// A block of literals only.
pub fn block(fields: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in fields {
        lit(&mut b, n, v);
    }
    b
}

/// A GET request of literals only, plus `extra` fields.
pub fn request(path: &str, extra: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut fields: Vec<(&[u8], &[u8])> = vec![
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", b"example.test"),
        (b":path", path.as_bytes()),
    ];
    fields.extend_from_slice(extra);
    block(&fields)
}
