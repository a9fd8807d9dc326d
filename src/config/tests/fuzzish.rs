//! Arbitrary mutations of the examples never make the parsers panic.

use super::*;
use proptest::prelude::*;

fn example(name: &str) -> String {
    std::fs::read_to_string(examples().join(name)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_examples_never_panic(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..4, "[ -~\n\"\\[\\]=]{0,12}"), 1..6),
    ) {
        let mut text = example(if which == 0 { "connector.toml" } else { "relay.toml" });
        for (at, op, s) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) { i -= 1; }
            match op {
                0 => text.insert_str(i, &s),
                1 => { let end = (i + s.len()).min(text.len()); if text.is_char_boundary(end) { text.replace_range(i..end, ""); } }
                2 => { let end = (i + s.len()).min(text.len()); if text.is_char_boundary(end) { text.replace_range(i..end, &s); } }
                _ => text.truncate(i),
            }
        }
        for r in [
            parse_any_str(&text, Path::new("m.toml"), &NO_FILES).map(|_| ()),
            parse_connector_str(&text, Path::new("m.toml"), &NO_FILES).map(|_| ()),
            parse_relay_str(&text, Path::new("m.toml"), &NO_FILES).map(|_| ()),
        ] {
            if let Err(errs) = r {
                prop_assert!(!errs.is_empty());
                for e in errs.errors() {
                    prop_assert!(e.line >= 1 && e.column >= 1, "{}", e);
                    prop_assert!(e.line as usize <= text.lines().count().max(1) + 1, "{}", e);
                }
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = parse_any_str(&text, Path::new("a.toml"), &NO_FILES);
        let _ = parse_relay_str(&text, Path::new("a.toml"), &NO_FILES);
        let _ = parse_connector_str(&text, Path::new("a.toml"), &NO_FILES);
    }

    #[test]
    fn any_key_path_the_map_reports_can_be_located(which in 0usize..2, key in "[a-z_\\[\\]0-9.]{0,40}") {
        let text = example(if which == 0 { "connector.toml" } else { "relay.toml" });
        let f = parse_any_str(&text, Path::new("e.toml"), &NO_FILES).unwrap();
        let map = match &f { AnyFile::Relay(r) => r.source_map(), AnyFile::Connector(c) => c.source_map() };
        let (line, col) = map.locate_nearest(&key);
        prop_assert!(line >= 1 && col >= 1);
        prop_assert!(line as usize <= text.lines().count());
    }
}

proptest! {
    #[test]
    fn password_hash_check_never_panics(s in "(\\$argon2id\\$v=19\\$)?[a-z0-9=,$+/]{0,60}") {
        let _ = crate::config::relay::check_password_hash(&s);
    }
}
