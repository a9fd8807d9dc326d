//! Property tests: normalisation is stable, decisions are taken on the forwarded path,
//! prefixes stop at segment boundaries, injected ambiguous tokens are always refused.

use super::super::*;
use super::{get, http_system, res};
use proptest::prelude::*;

/// A segment that passes the check: plain characters and a few allowed escapes.
fn segment() -> impl Strategy<Value = String> {
    "([a-zA-Z0-9_~!$&'()*+,=:@-]|%20|%C3%A9|%e2%82%ac|%3F|%25|\\.){1,6}"
        .prop_filter("dot segments are refused", |s| s != "." && s != "..")
        .prop_filter("%25 then two hex digits is double encoding", |s| {
            !s.match_indices("%25").any(|(i, _)| {
                s.as_bytes()
                    .get(i + 3..i + 5)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
            })
        })
}

/// A path that passes the check, with an optional query and trailing slash.
fn valid_path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(segment(), 0..6),
        any::<bool>(),
        prop::option::of("[a-z0-9=&/?.;]{0,12}"),
    )
        .prop_map(|(segs, slash, query)| {
            let mut p = format!("/{}", segs.join("/"));
            if slash && !segs.is_empty() {
                p.push('/');
            }
            if let Some(q) = query {
                p.push('?');
                p.push_str(&q);
            }
            p
        })
}

/// Tokens that make any path ambiguous wherever they appear in the path part.
const ANYWHERE: &[&str] = &[
    "%2e%2e",
    "%2E",
    "%252e",
    "%2f",
    "%2F",
    "%5c",
    "\\",
    ";",
    "..;",
    "//",
    "%00",
    "%0a",
    "%c0%af",
    "%41",
    "#",
    " ",
    "%",
    "%g0",
    "%e0%80%ae",
    "\u{e9}",
];
/// Segments that are ambiguous as whole segments.
const AS_SEGMENT: &[&str] = &[".", ".."];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn accepted_paths_recheck_identically(p in valid_path()) {
        let first = check_path(p.as_bytes());
        prop_assert!(first.is_ok(), "{p:?}: {first:?}");
        let first = first.unwrap();
        prop_assert_eq!(&first.raw()[..], p.as_bytes());
        let again = check_path(first.raw()).unwrap();
        prop_assert_eq!(&again, &first);
        let a: Vec<&str> = first.segments().collect();
        let b: Vec<&str> = again.segments().collect();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn decisions_are_taken_on_the_forwarded_path(
        p in valid_path(),
        rules in prop::collection::vec((valid_path(), any::<bool>()), 1..6),
    ) {
        let resources: Vec<ResourceSpec> = rules
            .iter()
            .map(|(r, exact)| {
                let r = r.split('?').next().unwrap_or("/");
                res(r, if *exact { PathMatch::Exact } else { PathMatch::Prefix })
            })
            .collect();
        // Duplicates are a compile error; keep the generated sets that compile.
        let Ok(policy) = SubaccountPolicy::compile(&[http_system("h.virtual", 80, resources)])
        else {
            return Ok(());
        };
        match policy.check_http(&get("h.virtual", &p)) {
            Ok(a) => {
                let fwd = a.path().unwrap().raw().clone();
                prop_assert_eq!(&fwd[..], p.as_bytes());
                // The forwarded bytes get the same decision and the same rule.
                let again = policy.check_http(&get("h.virtual", std::str::from_utf8(&fwd).unwrap()));
                prop_assert_eq!(again.map(|b| b.rule().map(str::to_string)).ok(),
                                Some(a.rule().map(str::to_string)));
                // The admitting rule is a segment-wise prefix of the request path.
                let rule = a.rule().unwrap();
                let rule_path = check_path(rule.as_bytes()).unwrap();
                let rule_segs: Vec<&str> = rule_path.segments().filter(|s| !s.is_empty()).collect();
                let req_segs: Vec<&str> = a.path().unwrap().segments().collect();
                prop_assert!(req_segs.starts_with(&rule_segs), "{rule:?} admitted {p:?}");
            }
            Err(d) => prop_assert!(matches!(d, Denial::NotWhitelisted), "{d:?}"),
        }
    }

    #[test]
    fn prefixes_never_cross_a_segment_boundary(
        segs in prop::collection::vec(segment(), 1..5),
        extra in "[a-zA-Z0-9_~.-]{1,4}",
        below in segment(),
    ) {
        let prefix = format!("/{}", segs.join("/"));
        let policy = SubaccountPolicy::compile(&[http_system(
            "h.virtual", 80, vec![res(&prefix, PathMatch::Prefix)],
        )]).unwrap();
        let glued = format!("{prefix}{extra}");
        if check_path(glued.as_bytes()).is_ok() {
            prop_assert_eq!(
                policy.check_http(&get("h.virtual", &glued)).err(),
                Some(Denial::NotWhitelisted),
                "{} admitted {}", prefix, glued
            );
        }
        let child = format!("{prefix}/{below}");
        prop_assert!(policy.check_http(&get("h.virtual", &child)).is_ok(), "{child}");
        prop_assert!(policy.check_http(&get("h.virtual", &prefix)).is_ok());
    }

    #[test]
    fn injected_ambiguous_tokens_are_always_refused(
        p in valid_path(),
        token in prop::sample::select(ANYWHERE),
        at in any::<prop::sample::Index>(),
    ) {
        let path_len = p.find('?').unwrap_or(p.len());
        // Any byte boundary inside the path part, after the leading `/`.
        let pos = 1 + at.index(path_len);
        let mut bad = p.clone();
        bad.insert_str(pos, token);
        let r = check_path(bad.as_bytes());
        prop_assert!(r.is_err(), "{bad:?} was accepted as {r:?}");
    }

    #[test]
    fn injected_dot_segments_are_always_refused(
        segs in prop::collection::vec(segment(), 0..5),
        token in prop::sample::select(AS_SEGMENT),
        at in any::<prop::sample::Index>(),
        slash in any::<bool>(),
    ) {
        let mut segs: Vec<String> = segs;
        let pos = at.index(segs.len() + 1);
        segs.insert(pos, token.to_string());
        let mut bad = format!("/{}", segs.join("/"));
        if slash {
            bad.push('/');
        }
        prop_assert!(check_path(bad.as_bytes()).is_err(), "{bad:?}");
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_accepted_ones_are_plain(raw in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(p) = check_path(&raw) {
            prop_assert!(p.raw().iter().all(|b| b.is_ascii_graphic()));
            prop_assert!(!p.decoded().contains(['\\', '\0', ';']));
            prop_assert!(p.segments().all(|s| s != "." && s != ".."));
        }
    }
}
