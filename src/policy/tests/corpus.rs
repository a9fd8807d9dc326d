//! The threats.md whitelist-bypass corpus (`tests/data/bypass_corpus.txt`) against the
//! compiled `tests/data/bypass_policy.toml`. The same files drive `tests/bypass.rs` end to
//! end.

use super::super::*;

#[path = "../../../tests/data/corpus.rs"]
mod data;
use data::{cases, PolicyFile, POLICY};

pub(super) fn corpus_policy() -> SubaccountPolicy {
    let file: PolicyFile = toml::from_str(POLICY).unwrap();
    SubaccountPolicy::compile(&file.system).unwrap()
}

#[test]
fn the_bypass_corpus_gets_the_expected_answers() {
    let policy = corpus_policy();
    let cases = cases();
    assert!(cases.len() > 80, "corpus read incompletely");
    let mut wrong = Vec::new();
    for c in &cases {
        let got = if c.connect {
            policy.check_connect(c.authority.as_bytes()).map(|_| ())
        } else {
            policy
                .check_http(&HttpRequest {
                    authority: c.authority.as_bytes(),
                    default_port: 80,
                    path: &c.target,
                    websocket_upgrade: false,
                })
                .map(|a| {
                    // Admitted: the path forwarded is the path received.
                    assert_eq!(&a.path().unwrap().raw()[..], &c.target[..]);
                })
        };
        let status = got.map_or_else(|d| d.status(), |()| 200);
        if status != c.status {
            wrong.push(format!(
                "{} {} {:?}: expected {}, got {status}",
                if c.connect { "CONNECT" } else { "GET" },
                c.authority,
                String::from_utf8_lossy(&c.target),
                c.status
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn websocket_only_where_allowed() {
    let policy = corpus_policy();
    let ws = |path: &str| {
        policy
            .check_http(&HttpRequest {
                authority: b"shop.virtual",
                default_port: 80,
                path: path.as_bytes(),
                websocket_upgrade: true,
            })
            .map(|a| a.rule().map(str::to_string))
    };
    assert_eq!(ws("/ws/feed"), Ok(Some("/ws".to_string())));
    assert_eq!(ws("/api/feed").err(), Some(Denial::WebSocketNotAllowed));
    assert_eq!(ws("/nope").err(), Some(Denial::NotWhitelisted));
}
