use super::client::{self, ReplyMsg};
use super::*;
use proptest::prelude::*;

fn bytes(f: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
    let mut out = BytesMut::new();
    f(&mut out);
    out.to_vec()
}

const MAX_JWT: u32 = 8192;

#[test]
fn greeting_sap_style() {
    let g = parse_greeting(&[5, 1, 0x80]).unwrap().unwrap();
    assert_eq!(
        g,
        (
            Greeting {
                methods: vec![0x80]
            },
            3
        )
    );
    assert!(g.0.offers(method::SAP_JWT));
    assert!(!g.0.offers(method::NO_AUTH));
}

#[test]
fn greeting_malformed() {
    assert_eq!(
        parse_greeting(&[4, 1, 0]),
        Err(SocksError::BadVersion { got: 4 })
    );
    // An HTTP request sent to the SOCKS port.
    assert_eq!(
        parse_greeting(b"GET / HTTP/1.1\r\n"),
        Err(SocksError::BadVersion { got: b'G' })
    );
    assert_eq!(parse_greeting(&[5, 0]), Err(SocksError::NoMethods));
    assert_eq!(parse_greeting(&[5, 3, 0, 2]), Ok(None));
    assert_eq!(parse_greeting(&[]), Ok(None));
}

#[test]
fn sap_auth_raw_and_base64_location() {
    for b64 in [false, true] {
        let wire = bytes(|o| client::write_sap_auth(b"a.b.c", Some("loc-1"), b64, o).unwrap());
        let (auth, n) = parse_sap_auth(&wire, MAX_JWT).unwrap().unwrap();
        assert_eq!(n, wire.len());
        assert_eq!(auth.jwt, b"a.b.c");
        assert_eq!(auth.location.as_deref(), Some("loc-1"), "base64: {b64}");
    }
    // The exact layout SAP documents: 01 | u32 BE | jwt | u8 | loc.
    let wire = [1, 0, 0, 0, 3, b'x', b'.', b'y', 4, b'b', b'G', b'9', b'j'];
    let (auth, _) = parse_sap_auth(&wire, MAX_JWT).unwrap().unwrap();
    assert_eq!(auth.location.as_deref(), Some("loc"));
    // Unpadded base64 too ("loc-1" is "bG9jLTE=").
    let wire = [
        1, 0, 0, 0, 1, b'x', 7, b'b', b'G', b'9', b'j', b'L', b'T', b'E',
    ];
    let (auth, _) = parse_sap_auth(&wire, MAX_JWT).unwrap().unwrap();
    assert_eq!(auth.location.as_deref(), Some("loc-1"));
    // No location: the tenant's default applies.
    let wire = bytes(|o| client::write_sap_auth(b"t", None, false, o).unwrap());
    assert_eq!(
        parse_sap_auth(&wire, MAX_JWT).unwrap().unwrap().0.location,
        None
    );
}

#[test]
fn sap_auth_refusals() {
    assert_eq!(
        parse_sap_auth(&[2, 0, 0, 0, 1], MAX_JWT),
        Err(SocksError::BadAuthVersion { got: 2 })
    );
    // Oversized: refused on the length alone, before any JWT byte arrives.
    assert_eq!(
        parse_sap_auth(&[1, 0, 0, 0x20, 1], MAX_JWT),
        Err(SocksError::JwtTooLong {
            len: 0x2001,
            max: MAX_JWT
        })
    );
    assert_eq!(
        parse_sap_auth(&[1, 0xff, 0xff, 0xff, 0xff], MAX_JWT),
        Err(SocksError::JwtTooLong {
            len: u32::MAX,
            max: MAX_JWT
        })
    );
    assert_eq!(
        parse_sap_auth(&[1, 0, 0, 0, 0, 0], MAX_JWT),
        Err(SocksError::EmptyJwt)
    );
    for bad in ["Upper", "-lead", "sp ace", "a/b"] {
        let wire = bytes(|o| client::write_sap_auth(b"t", Some(bad), false, o).unwrap());
        assert!(
            matches!(
                parse_sap_auth(&wire, MAX_JWT),
                Err(SocksError::InvalidLocation { .. })
            ),
            "{bad}"
        );
    }
    // Valid base64 of an invalid name is not taken as base64; raw "QUJD" (base64 of "ABC")
    // is an invalid name too, because of the capitals.
    let wire = bytes(|o| client::write_sap_auth(b"t", Some("QUJD"), false, o).unwrap());
    assert!(parse_sap_auth(&wire, MAX_JWT).is_err());
}

#[test]
fn userpass() {
    let wire = bytes(|o| client::write_userpass(b"alice", b"s3cret", o).unwrap());
    let (up, n) = parse_userpass(&wire).unwrap().unwrap();
    assert_eq!(
        (up.username.as_slice(), up.password.as_slice(), n),
        (&b"alice"[..], &b"s3cret"[..], wire.len())
    );
    assert!(!format!("{up:?}").contains("s3cret"));
    assert_eq!(parse_userpass(&[1, 0, 0]), Err(SocksError::EmptyUsername));
    assert_eq!(
        parse_userpass(&[5, 1, b'a', 0]),
        Err(SocksError::BadAuthVersion { got: 5 })
    );
    // Empty password: parsed (verification fails later, not framing).
    assert!(parse_userpass(&[1, 1, b'a', 0]).unwrap().is_some());
}

#[test]
fn requests_every_address_type() {
    let cases = [
        Address::V4(Ipv4Addr::new(10, 0, 0, 1)),
        Address::V6(Ipv6Addr::LOCALHOST),
        Address::Domain("erp.virtual".into()),
    ];
    for a in cases {
        let wire = bytes(|o| client::write_connect(&a, 443, o).unwrap());
        let (r, n) = parse_request(&wire).unwrap().unwrap();
        assert_eq!(n, wire.len());
        assert_eq!(
            r,
            Request {
                command: Command::Connect,
                address: a.clone(),
                port: 443
            }
        );
    }
    assert_eq!(Address::V6(Ipv6Addr::LOCALHOST).authority(80), "[::1]:80");
    assert_eq!(Address::Domain("h".into()).authority(1), "h:1");
}

#[test]
fn request_refusals_map_to_reply_codes() {
    let e = parse_request(&[5, 9, 0, 1]).unwrap_err();
    assert_eq!(e, SocksError::UnsupportedCommand { got: 9 });
    assert_eq!(e.reply().code(), 0x07);
    let e = parse_request(&[5, 1, 0, 7]).unwrap_err();
    assert_eq!(e, SocksError::UnsupportedAddressType { got: 7 });
    assert_eq!(e.reply().code(), 0x08);
    assert_eq!(
        parse_request(&[5, 1, 1, 1]),
        Err(SocksError::ReservedNotZero { got: 1 })
    );
    assert_eq!(
        parse_request(&[5, 1, 0, 3, 0, 0, 80]),
        Err(SocksError::InvalidDomain)
    );
    assert_eq!(
        parse_request(&[5, 1, 0, 3, 3, b'a', b'/', b'b', 0, 80]),
        Err(SocksError::InvalidDomain)
    );
    assert_eq!(
        parse_request(&[5, 1, 0, 3, 3, b'a', b'\r', b'b', 0, 80])
            .unwrap_err()
            .reply(),
        Reply::GeneralFailure
    );
    // BIND and UDP ASSOCIATE parse; the server answers 0x07 itself.
    let (r, _) = parse_request(&[5, 2, 0, 1, 1, 2, 3, 4, 0, 80])
        .unwrap()
        .unwrap();
    assert_eq!(r.command, Command::Bind);
    let (r, _) = parse_request(&[5, 3, 0, 1, 1, 2, 3, 4, 0, 80])
        .unwrap()
        .unwrap();
    assert_eq!(r.command, Command::UdpAssociate);
}

#[test]
fn replies_round_trip_every_code() {
    for code in 0..=255u8 {
        let Some(reply) = Reply::from_code(code) else {
            continue;
        };
        assert_eq!(reply.code(), code);
        let wire = bytes(|o| write_reply(reply, &Address::UNSPECIFIED, 0, o).unwrap());
        assert_eq!(wire, [5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
        let (msg, n) = client::parse_reply(&wire).unwrap().unwrap();
        assert_eq!(n, wire.len());
        assert_eq!(
            msg,
            ReplyMsg {
                code,
                bound: Address::UNSPECIFIED,
                port: 0
            }
        );
    }
    let codes: Vec<u8> = (0..=255)
        .filter(|c| Reply::from_code(*c).is_some())
        .collect();
    assert_eq!(codes, [0, 1, 2, 3, 4, 5, 7, 8]);
}

#[test]
fn writers() {
    assert_eq!(bytes(|o| write_method_choice(0x80, o)), [5, 0x80]);
    assert_eq!(bytes(|o| write_auth_status(true, o)), [1, 0]);
    assert_eq!(bytes(|o| write_auth_status(false, o)), [1, 1]);
    let long = Address::Domain("a".repeat(256));
    let mut out = BytesMut::new();
    assert!(write_reply(Reply::Succeeded, &long, 1, &mut out).is_err());
    assert!(client::write_connect(&long, 1, &mut out).is_err());
    assert!(out.is_empty(), "nothing written on error");
    assert_eq!(client::parse_method_choice(&[5, 0xff]), Ok(Some((0xff, 2))));
    assert_eq!(
        client::parse_method_choice(&[4]),
        Err(SocksError::BadVersion { got: 4 })
    );
    assert_eq!(client::parse_auth_status(&[1, 1]), Ok(Some((false, 2))));
}

#[test]
fn errors_name_the_problem() {
    let e = SocksError::JwtTooLong {
        len: 9000,
        max: 8192,
    };
    assert!(e.to_string().contains("9000") && e.to_string().contains("8192"));
    let e = SocksError::UnsupportedAddressType { got: 7 };
    assert!(e.to_string().contains("0x07"));
}

// ----- properties -----

fn arb_address() -> impl Strategy<Value = Address> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| Address::V4(Ipv4Addr::from(o))),
        any::<[u8; 16]>().prop_map(|o| Address::V6(Ipv6Addr::from(o))),
        "[a-zA-Z0-9._-]{1,255}".prop_map(Address::Domain),
    ]
}

/// A complete message parses to `msg` consuming exactly its bytes whatever follows; every
/// strict prefix asks for more.
fn check_framing<T: PartialEq + fmt::Debug>(
    wire: &[u8],
    tail: &[u8],
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, SocksError>,
    msg: &T,
) -> Result<(), TestCaseError> {
    for cut in 0..wire.len() {
        prop_assert_eq!(parse(&wire[..cut]), Ok(None), "prefix of {}", cut);
    }
    let mut whole = wire.to_vec();
    whole.extend_from_slice(tail);
    let (got, n) = parse(&whole)
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .ok_or_else(|| TestCaseError::fail("incomplete"))?;
    prop_assert_eq!(&got, msg);
    prop_assert_eq!(n, wire.len());
    Ok(())
}

proptest! {
    #[test]
    fn greeting_framing(methods in prop::collection::vec(any::<u8>(), 1..255), tail in prop::collection::vec(any::<u8>(), 0..8)) {
        let wire = bytes(|o| client::write_greeting(&methods, o).unwrap());
        check_framing(&wire, &tail, parse_greeting, &Greeting { methods })?;
    }

    #[test]
    fn sap_auth_framing(jwt in prop::collection::vec(any::<u8>(), 1..600), loc in proptest::option::of("[a-z0-9_][a-z0-9._-]{0,62}"), b64: bool, tail in prop::collection::vec(any::<u8>(), 0..8)) {
        let wire = bytes(|o| client::write_sap_auth(&jwt, loc.as_deref(), b64, o).unwrap());
        let parsed = parse_sap_auth(&wire, MAX_JWT).unwrap().unwrap().0;
        // Raw names that are themselves base64 of a valid name may decode; everything else
        // comes back as sent.
        prop_assume!(b64 || parsed.location == loc);
        check_framing(&wire, &tail, |b| parse_sap_auth(b, MAX_JWT), &SapAuth { jwt, location: loc })?;
    }

    #[test]
    fn userpass_framing(user in prop::collection::vec(any::<u8>(), 1..256), pass in prop::collection::vec(any::<u8>(), 0..256), tail in prop::collection::vec(any::<u8>(), 0..8)) {
        let wire = bytes(|o| client::write_userpass(&user, &pass, o).unwrap());
        check_framing(&wire, &tail, parse_userpass, &UserPass { username: user, password: pass })?;
    }

    #[test]
    fn request_framing(address in arb_address(), port: u16, tail in prop::collection::vec(any::<u8>(), 0..8)) {
        let wire = bytes(|o| client::write_connect(&address, port, o).unwrap());
        check_framing(&wire, &tail, parse_request, &Request { command: Command::Connect, address, port })?;
    }

    #[test]
    fn reply_framing(code: u8, address in arb_address(), port: u16) {
        let Some(reply) = Reply::from_code(code) else { return Ok(()) };
        let wire = bytes(|o| write_reply(reply, &address, port, o).unwrap());
        check_framing(&wire, &[], client::parse_reply, &ReplyMsg { code, bound: address, port })?;
    }

    /// Arbitrary input never panics, and a success never claims more bytes than it had.
    #[test]
    fn arbitrary_input(buf in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(Some((_, n))) = parse_greeting(&buf) { prop_assert!(n <= buf.len()); }
        if let Ok(Some((_, n))) = parse_sap_auth(&buf, 64) { prop_assert!(n <= buf.len()); }
        if let Ok(Some((_, n))) = parse_userpass(&buf) { prop_assert!(n <= buf.len()); }
        if let Ok(Some((_, n))) = parse_request(&buf) { prop_assert!(n <= buf.len()); }
        if let Ok(Some((_, n))) = client::parse_reply(&buf) { prop_assert!(n <= buf.len()); }
    }
}
