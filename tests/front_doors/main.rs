//! The relay's front doors with authentication, over real loopback sockets: a relay with a
//! JWT identity provider and a SOCKS5 user, connectors for two tenants (`acme` at locations
//! `default` and `rome`, `beta` at `default`), sample backends, and clients: real `curl`
//! (SOCKS5 with username/password, HTTP proxy with a Bearer token), and SAP's 0x80 method
//! written here with `proto::socks5::client`.

mod http;
mod stack;

use bytes::BytesMut;
use sallyport::demo::client;
use sallyport::proto::socks5::{self, method, Address};
use serde_json::json;
use stack::*;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};

// ----------------------------------------------------------------------------- SOCKS5

#[test]
fn sap_0x80_connect_echoes_with_half_close() {
    let d = doors();
    let t = token("acme");
    let (mut s, code) = socks_open(
        d.socks,
        Cred::Jwt(&t, None, false),
        &domain("ldap.virtual"),
        389,
    );
    assert_eq!(code, 0x00);
    echo_through(&mut s, b"hello over SAP's method 0x80");
}

#[test]
fn sap_0x80_location_raw_and_base64() {
    let d = doors();
    let t = token("acme");
    for b64 in [false, true] {
        let (mut s, code) = socks_open(
            d.socks,
            Cred::Jwt(&t, Some("rome"), b64),
            &domain("rome.virtual"),
            389,
        );
        assert_eq!(code, 0x00, "base64: {b64}");
        echo_through(&mut s, b"rome");
    }
    // Without a location the tenant's default applies, where rome.virtual is not mapped.
    let (_, code) = socks_open(
        d.socks,
        Cred::Jwt(&t, None, false),
        &domain("rome.virtual"),
        389,
    );
    assert_eq!(code, 0x02);
}

#[test]
fn pipelined_0x80_client() {
    // Everything in one write, as a client that does not wait for each answer.
    let d = doors();
    let t = token("acme");
    let mut out = BytesMut::new();
    socks5::client::write_greeting(&[method::SAP_JWT], &mut out).unwrap();
    socks5::client::write_sap_auth(t.as_bytes(), None, false, &mut out).unwrap();
    socks5::client::write_connect(&domain("ldap.virtual"), 389, &mut out).unwrap();
    out.extend_from_slice(b"early bytes");
    let mut s = connect(d.socks);
    s.write_all(&out).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let all = read_to_close(&mut s);
    assert_eq!(&all[..4], [5, 0x80, 1, 0]);
    let (reply, n) = socks5::client::parse_reply(&all[4..]).unwrap().unwrap();
    assert_eq!(reply.code, 0);
    assert_eq!(&all[4 + n..], b"early bytes");
}

#[test]
fn ipv4_and_ipv6_targets() {
    let d = doors();
    let t = token("acme");
    for a in [
        Address::V4(Ipv4Addr::new(10, 9, 8, 7)),
        Address::V6("fd00::7".parse::<Ipv6Addr>().unwrap()),
    ] {
        let (mut s, code) = socks_open(d.socks, Cred::Jwt(&t, None, false), &a, 389);
        assert_eq!(code, 0x00, "{a:?}");
        echo_through(&mut s, b"ip");
    }
    let (_, code) = socks_open(
        d.socks,
        Cred::Jwt(&t, None, false),
        &Address::V4(Ipv4Addr::new(10, 9, 8, 8)),
        389,
    );
    assert_eq!(code, 0x02);
}

#[test]
fn every_reply_code() {
    let d = doors();
    let t = token("acme");
    let jwt = Cred::Jwt(&t, None, false);
    // 0x02: no mapping.
    assert_eq!(
        socks_open(d.socks, jwt, &domain("unknown.virtual"), 389).1,
        0x02
    );
    // 0x03: an allowed location without a connector; a location the tenant does not have.
    assert_eq!(
        socks_open(
            d.socks,
            Cred::Jwt(&t, Some("paris"), false),
            &domain("ldap.virtual"),
            389
        )
        .1,
        0x03
    );
    assert_eq!(
        socks_open(
            d.socks,
            Cred::Jwt(&t, Some("nowhere"), true),
            &domain("ldap.virtual"),
            389
        )
        .1,
        0x03
    );
    // 0x04: the backend is down.
    assert_eq!(
        socks_open(d.socks, jwt, &domain("down.virtual"), 389).1,
        0x04
    );
    // 0x05: authentication failure (expired token).
    let expired = token_with(&d.signer, |c| {
        c.insert("exp".into(), json!(now() - 3600));
    });
    let (_, code) = socks_open(
        d.socks,
        Cred::Jwt(&expired, None, false),
        &domain("ldap.virtual"),
        389,
    );
    assert_eq!(code, 0x05);
    // 0x01: the system is mapped for HTTP, not for raw TCP.
    assert_eq!(socks_open(d.socks, jwt, &domain("erp.virtual"), 80).1, 0x01);

    // 0x07 (BIND) and 0x08 (address type 5), after a valid authentication.
    for (request, code) in [
        (vec![5u8, 2, 0, 1, 10, 9, 8, 7, 1, 133], 0x07),
        (vec![5u8, 1, 0, 5, 1, 2, 3, 4, 0, 80], 0x08),
    ] {
        let mut s = connect(d.socks);
        let mut out = BytesMut::new();
        socks5::client::write_greeting(&[method::SAP_JWT], &mut out).unwrap();
        socks5::client::write_sap_auth(t.as_bytes(), None, false, &mut out).unwrap();
        out.extend_from_slice(&request);
        s.write_all(&out).unwrap();
        assert_eq!(read_n(&mut s, 4), [5, 0x80, 1, 0]);
        assert_eq!(read_reply(&mut s).code, code);
        assert_eq!(read_to_close(&mut s), b"", "closed after the refusal");
    }
}

#[test]
fn another_tenants_host_answers_like_an_unknown_host() {
    let d = doors();
    let a = token("acme");
    let b = token("beta");
    // beta reaches its own host; acme's token against it gets exactly the unknown-host reply.
    let (mut s, code) = socks_open(
        d.socks,
        Cred::Jwt(&b, None, false),
        &domain("secret.virtual"),
        389,
    );
    assert_eq!(code, 0);
    echo_through(&mut s, b"beta");
    let (_, other) = socks_open(
        d.socks,
        Cred::Jwt(&a, None, false),
        &domain("secret.virtual"),
        389,
    );
    let (_, unknown) = socks_open(
        d.socks,
        Cred::Jwt(&a, None, false),
        &domain("nosuch.virtual"),
        389,
    );
    assert_eq!((other, unknown), (0x02, 0x02));
    // And over the HTTP proxy: same status, same text apart from the host name.
    let get = |host: &str| {
        let mut s = connect(d.proxy);
        let head = format!(
            "GET http://{host}/ HTTP/1.1\r\nhost: {host}\r\nproxy-authorization: Bearer {a}\r\n\r\n"
        );
        let (status, body) = client::exchange(&mut s, &head, &[]).unwrap();
        (status, String::from_utf8_lossy(&body).replace(host, "HOST"))
    };
    let other = get("secret.virtual");
    assert_eq!(other.0, 403);
    assert_eq!(other, get("nosuch.virtual"));
    // The canary behind beta's host saw beta's connection and nothing of acme's attempts.
    assert_eq!(
        d.secret_echo
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        1,
        "acme reached beta's backend"
    );
}

/// Two tenants map the same virtual host to different backends: each reaches only its own.
#[test]
fn the_same_virtual_host_in_two_tenants_is_two_systems() {
    let d = doors();
    let get = |tenant: &str, path: &str| {
        let token = token(tenant);
        let mut s = connect(d.proxy);
        let head = format!(
            "GET http://shared.virtual{path} HTTP/1.1\r\nhost: shared.virtual\r\nproxy-authorization: Bearer {token}\r\n\r\n"
        );
        client::exchange(&mut s, &head, &[]).unwrap().0
    };
    assert_eq!(get("acme", "/from-acme"), 200);
    assert_eq!(get("beta", "/from-beta"), 200);
    let seen = |b: &sallyport::demo::backends::Backend| {
        b.requests
            .lock()
            .unwrap()
            .iter()
            .map(|l| l.split(' ').nth(1).unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(seen(&d.canary_acme), ["/from-acme"]);
    assert_eq!(seen(&d.canary_beta), ["/from-beta"]);
}

#[test]
fn jwt_attacks_are_refused_and_audited() {
    let d = doors();
    let good = token("acme");
    let mut parts = good.split('.');
    let (h, p) = (parts.next().unwrap(), parts.next().unwrap());
    let none = format!("{}.{p}.", base64_url(br#"{"alg":"none","typ":"JWT"}"#));
    let attacks = [
        ("alg none", none),
        ("unknown kid", token_with(&d.stranger, |_| {})),
        (
            "wrong audience",
            token_with(&d.signer, |c| drop(c.insert("aud".into(), json!("other")))),
        ),
        (
            "not yet valid",
            token_with(&d.signer, |c| {
                drop(c.insert("nbf".into(), json!(now() + 3600)))
            }),
        ),
        (
            "wrong issuer",
            token_with(&d.signer, |c| {
                drop(c.insert("iss".into(), json!("https://evil")))
            }),
        ),
        (
            "tampered",
            format!(
                "{h}.{}.{}",
                base64_url(br#"{"zid":"beta"}"#),
                good.rsplit('.').next().unwrap()
            ),
        ),
        ("oversize", "a".repeat(20_000)),
    ];
    for (what, t) in &attacks {
        let (s, code) = socks_open(
            d.socks,
            Cred::Jwt(t, None, false),
            &domain("ldap.virtual"),
            389,
        );
        assert_eq!(code, 0x05, "{what}");
        let reasons = d.audit.reasons_for(s.local_addr().unwrap());
        assert_eq!(reasons.len(), 1, "{what}: {reasons:?}");
    }
}

fn base64_url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[test]
fn username_password() {
    let d = doors();
    let (mut s, code) = socks_open(
        d.socks,
        Cred::User("alice", PASSWORD),
        &domain("ldap.virtual"),
        389,
    );
    assert_eq!(code, 0);
    echo_through(&mut s, b"alice");
    for (user, pw) in [("alice", "wrong"), ("mallory", PASSWORD)] {
        let (s, code) = socks_open(d.socks, Cred::User(user, pw), &domain("ldap.virtual"), 389);
        assert_eq!(code, 0x05, "{user}");
        let reasons = d.audit.reasons_for(s.local_addr().unwrap());
        assert!(
            reasons.len() == 1 && reasons[0].contains(user),
            "{reasons:?}"
        );
    }
}

#[test]
fn method_selection() {
    let d = doors();
    let choose = |door: SocketAddr, methods: &[u8]| {
        let mut s = connect(door);
        let mut out = BytesMut::new();
        socks5::client::write_greeting(methods, &mut out).unwrap();
        s.write_all(&out).unwrap();
        let choice = read_n(&mut s, 2);
        (s, choice[1])
    };
    assert_eq!(
        choose(d.socks, &[0x00, 0x02, 0x80]).1,
        0x80,
        "0x80 preferred"
    );
    assert_eq!(choose(d.socks, &[0x00, 0x02]).1, 0x02);
    // No trusted tenant here: offering only "no authentication" is refused, audited, closed.
    let (mut s, m) = choose(d.socks, &[0x00]);
    assert_eq!(m, 0xFF);
    assert_eq!(read_to_close(&mut s), b"");
    assert_eq!(d.audit.reasons_for(s.local_addr().unwrap()).len(), 1);
    // The trusted relay takes 0x00 for its tenant; it has no connector: 0x03.
    assert_eq!(choose(d.trusted_socks, &[0x00, 0x02]).1, 0x00);
    let (_, code) = socks_open(d.trusted_socks, Cred::Nothing, &domain("ldap.virtual"), 389);
    assert_eq!(code, 0x03);
}

#[test]
fn malformed_truncated_and_stalled_greetings_are_closed() {
    let d = doors();
    for bytes in [
        &[4u8, 1, 0][..],          // SOCKS4
        &[5, 0][..],               // no methods
        b"GET / HTTP/1.1\r\n\r\n", // HTTP on the SOCKS port
    ] {
        let mut s = connect(d.socks);
        s.write_all(bytes).unwrap();
        assert_eq!(read_to_close(&mut s), b"", "{bytes:?}");
    }
    // Truncated, then the client gives up: closed, nothing sent.
    let mut s = connect(d.socks);
    s.write_all(&[5, 3, 0x80]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_close(&mut s), b"");
    // Stalled mid-greeting, mid-auth and silent: the per-phase deadline (1 s here) closes
    // them; the read timeout of 15 s would fail the test instead.
    let mut stalled = connect(d.socks);
    stalled.write_all(&[5, 2]).unwrap();
    let mut silent = connect(d.socks);
    let mut mid_auth = connect(d.socks);
    mid_auth.write_all(&[5, 1, 0x80, 1, 0, 0, 1, 0]).unwrap();
    assert_eq!(read_to_close(&mut stalled), b"");
    assert_eq!(read_to_close(&mut silent), b"");
    assert_eq!(read_to_close(&mut mid_auth), [5, 0x80]);
}
