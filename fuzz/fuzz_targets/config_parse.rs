//! Both configuration parsers on arbitrary text, with file checks off.
//!
//! Besides "no panic" it checks: an error list is never empty; every error has a position
//! inside the text (line ≥ 1 and at most one past the last line, column ≥ 1); parsing is
//! deterministic; `parse_any_str` agrees with the parser for the kind it detects; a file that
//! parses has every subaccount / tenant / identity provider in its source map.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sallyport::config::{
    parse_any_str, parse_connector_str, parse_relay_str, AnyFile, ConfigErrors, Options,
};
use std::path::Path;

fn check_positions(text: &str, errs: &ConfigErrors) {
    assert!(!errs.is_empty(), "an Err without errors");
    let lines = text.split('\n').count() as u32;
    for e in errs.errors() {
        assert!(e.line >= 1 && e.column >= 1, "unpositioned: {e}");
        assert!(e.line <= lines + 1, "line past the end ({lines} lines): {e}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let opts = Options { check_files: false };
    let origin = Path::new("fuzz/config.toml");
    let connector = parse_connector_str(text, origin, &opts);
    let relay = parse_relay_str(text, origin, &opts);
    let any = parse_any_str(text, origin, &opts);
    for errs in [connector.as_ref().err(), relay.as_ref().err(), any.as_ref().err()]
        .into_iter()
        .flatten()
    {
        check_positions(text, errs);
    }
    assert_eq!(
        parse_connector_str(text, origin, &opts).err(),
        connector.as_ref().err().cloned(),
        "not deterministic"
    );
    match &any {
        Ok(AnyFile::Connector(c)) => {
            assert!(connector.is_ok() && relay.is_err());
            for i in 0..c.subaccounts.len() {
                assert!(c.source_map().locate(&format!("subaccount[{i}]")).is_some());
            }
        }
        Ok(AnyFile::Relay(r)) => {
            assert!(relay.is_ok() && connector.is_err());
            for i in 0..r.tenants.len() {
                assert!(r.source_map().locate(&format!("tenant[{i}]")).is_some());
            }
            for i in 0..r.identity_providers.len() {
                assert!(r.source_map().locate(&format!("identity_provider[{i}]")).is_some());
            }
        }
        Err(_) => {}
    }
});
