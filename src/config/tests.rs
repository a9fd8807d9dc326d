//! Tests of the configuration files.

mod connector;
mod fuzzish;
mod relay;

use super::*;
use std::path::Path;

const NO_FILES: Options = Options { check_files: false };

/// The one error about `key` (panics with the full list otherwise).
fn error_at<'e>(errs: &'e ConfigErrors, key: &str) -> &'e ConfigError {
    let found: Vec<_> = errs.0.iter().filter(|e| e.key == key).collect();
    assert_eq!(found.len(), 1, "errors about {key}:\n{errs}");
    found[0]
}

/// The 1-based line of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> u32 {
    let i = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    u32::try_from(i + 1).unwrap()
}

/// 1-based column of `needle` in its line.
fn column_of(text: &str, needle: &str) -> u32 {
    let l = text.lines().find(|l| l.contains(needle)).unwrap();
    u32::try_from(l.find(needle).unwrap() + 1).unwrap()
}

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

#[test]
fn examples_parse_with_file_checks_off() {
    let c = load_connector_with(&examples().join("connector.toml"), &NO_FILES).unwrap();
    assert_eq!(c.subaccounts.len(), 2);
    assert_eq!(c.subaccounts[0].systems.len(), 3);
    assert_eq!(c.subaccounts[0].systems[0].resources.len(), 2);
    assert_eq!(c.subaccounts[0].relay_name, "relay.example.com");
    assert_eq!(c.connector.audit_dir, examples().join("audit"));
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    let r = load_relay_with(&examples().join("relay.toml"), &NO_FILES).unwrap();
    assert_eq!(r.tenants[0].users.len(), 1);
    assert_eq!(
        r.identity_providers[0].keys[0].file,
        examples().join("keys/corp.pub.pem")
    );
    assert_eq!(r.relay.limits, Limits::default());
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());
}

#[test]
fn examples_with_file_checks_on_name_the_missing_files() {
    let errs = load_relay(&examples().join("relay.toml")).unwrap_err();
    let e = error_at(&errs, "relay.ca");
    assert_eq!(e.kind, ErrorKind::MissingFile);
    assert!(e.message.contains("ca.pem"), "{e}");
}

#[test]
fn kind_comes_from_the_top_level_table() {
    let text = std::fs::read_to_string(examples().join("relay.toml")).unwrap();
    let f = parse_any_str(&text, Path::new("r.toml"), &NO_FILES).unwrap();
    assert_eq!(f.kind(), Kind::Relay);
    let both = "[relay]\n[connector]\n";
    let errs = parse_any_str(both, Path::new("x.toml"), &NO_FILES).unwrap_err();
    assert!(errs.0[0].message.contains("both"), "{errs}");
    let neither = "a = 1\n";
    let errs = parse_any_str(neither, Path::new("x.toml"), &NO_FILES).unwrap_err();
    assert!(errs.0[0].message.contains("neither"), "{errs}");
}

#[test]
fn syntax_error_is_the_only_error_and_positioned() {
    let text = "[connector]\naudit_dir = \"a\"\n\n[[subaccount]]\ntenant = acme\n";
    let errs = parse_connector_str(text, Path::new("c.toml"), &NO_FILES).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs}");
    let e = &errs.0[0];
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert_eq!((e.line, e.column), (5, 10));
    assert!(
        e.to_string().starts_with("c.toml:5:10: TOML syntax error"),
        "{e}"
    );
}

#[test]
fn unreadable_file_is_an_io_error_without_position() {
    let errs = load_connector(Path::new("/nonexistent/sallyport.toml")).unwrap_err();
    assert_eq!(errs.0[0].kind, ErrorKind::Io);
    assert!(
        errs.to_string()
            .starts_with("/nonexistent/sallyport.toml: cannot read"),
        "{errs}"
    );
}
