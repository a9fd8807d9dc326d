//! The whitelist-bypass corpus (`bypass_corpus.txt`, from threats.md) and the policy it runs
//! against (`bypass_policy.toml`): one reader, included by the policy unit tests
//! (`src/policy/tests/corpus.rs`) and by the end-to-end test (`tests/bypass.rs`) with
//! `#[path]`, so both read the files the same way.

use super::SystemSpec;

pub const POLICY: &str = include_str!("bypass_policy.toml");
pub const CORPUS: &str = include_str!("bypass_corpus.txt");

/// The policy file's shape.
#[derive(serde::Deserialize)]
pub struct PolicyFile {
    pub system: Vec<SystemSpec>,
}

/// One corpus case: a request (or CONNECT), the status the whitelist must give it.
pub struct Case {
    pub connect: bool,
    pub status: u16,
    pub authority: String,
    pub target: Vec<u8>,
}

/// `\xNN` → the byte; everything else as written.
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 2..i + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], b.get(i + 1), hex) {
            (b'\\', Some(b'x'), Some(v)) => {
                out.push(v);
                i += 4;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Every case of the corpus, in file order.
pub fn cases() -> Vec<Case> {
    CORPUS
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Case {
                connect: f[0] == "CONNECT",
                status: f[1].parse().unwrap(),
                authority: f[2].to_string(),
                target: f.get(3).map(|t| unescape(t)).unwrap_or_default(),
            }
        })
        .collect()
}
