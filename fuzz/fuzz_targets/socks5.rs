//! The SOCKS5 layer on arbitrary bytes: every server parser (greeting, 0x80 JWT + location,
//! RFC 1929, request) and the client's reply parser. Input: `[max_jwt knob]` + bytes.
//!
//! Besides "no panic" it checks: consumed ≤ input; a complete message is incomplete one byte
//! shorter and parses the same on exactly its own bytes; a parsed message re-serialises with
//! the client writers to bytes that parse to the same message.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sallyport::proto::socks5::{self, client, SocksError};
use std::fmt::Debug;

/// The framing invariants shared by every parser.
fn framing<T: PartialEq + Debug>(
    input: &[u8],
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, SocksError>,
) -> Option<T> {
    let Ok(Some((msg, n))) = parse(input) else {
        return None;
    };
    assert!(n > 0 && n <= input.len(), "consumed {n} of {}", input.len());
    assert_eq!(parse(&input[..n - 1]), Ok(None), "prefix");
    match parse(&input[..n]) {
        Ok(Some((again, m))) => assert!(again == msg && m == n, "not the same on its own bytes"),
        other => panic!("complete message does not parse on its own bytes: {other:?}"),
    }
    Some(msg)
}

fn reparse<T: PartialEq + Debug>(
    write: impl FnOnce(&mut BytesMut) -> Result<(), SocksError>,
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, SocksError>,
    expect: &T,
) {
    let mut out = BytesMut::new();
    if let Err(e) = write(&mut out) {
        panic!("parsed message does not serialise: {e}");
    }
    match parse(&out) {
        Ok(Some((m, n))) => {
            assert_eq!(n, out.len());
            assert_eq!(&m, expect);
        }
        other => panic!("re-serialised message does not parse: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&knob, input)) = data.split_first() else {
        return;
    };
    let max_jwt = u32::from(knob) * 16;

    if let Some(g) = framing(input, socks5::parse_greeting) {
        reparse(|o| client::write_greeting(&g.methods, o), socks5::parse_greeting, &g);
    }
    if let Some(a) = framing(input, |b| socks5::parse_sap_auth(b, max_jwt)) {
        assert!(a.jwt.len() <= max_jwt as usize);
        if let Some(loc) = &a.location {
            assert!(socks5::check_location(loc.as_bytes()).is_ok());
        }
        // Base64-encoded on the way out: decodes back to the same validated name.
        reparse(
            |o| client::write_sap_auth(&a.jwt, a.location.as_deref(), true, o),
            |b| socks5::parse_sap_auth(b, max_jwt),
            &a,
        );
    }
    if let Some(u) = framing(input, socks5::parse_userpass) {
        reparse(|o| client::write_userpass(&u.username, &u.password, o), socks5::parse_userpass, &u);
    }
    if let Some(r) = framing(input, socks5::parse_request) {
        reparse(
            |o| client::write_request(r.command.code(), &r.address, r.port, o),
            socks5::parse_request,
            &r,
        );
    }
    if let Some(r) = framing(input, client::parse_reply) {
        if let Some(reply) = socks5::Reply::from_code(r.code) {
            reparse(|o| socks5::write_reply(reply, &r.bound, r.port, o), client::parse_reply, &r);
        }
    }
});
