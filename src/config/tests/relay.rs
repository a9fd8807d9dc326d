//! Relay file: each error with its key, line and column.

use super::*;

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0gV5Y1G0b0vLu6o2W1gkWQz3cKQm0n7VfY3nQ2rB9sE";

fn good() -> String {
    format!(
        r#"[relay]
ca = "pki/ca.pem"
cert = "pki/relay.pem"
key = "pki/relay.key"

[relay.socks5]
listen = "127.0.0.1:20004"

[[identity_provider]]
name = "corp"
issuer = "https://idp.example.com/"
audience = "sallyport"
algorithms = ["ES256"]
tenant_claim = "zid"
jwks = "keys/corp.jwks.json"

[[tenant]]
name = "acme"
locations = ["default", "berlin"]

  [[tenant.user]]
  name = "app1"
  password_hash = "{HASH}"
"#
    )
}

fn parse(text: &str) -> Result<RelayFile, ConfigErrors> {
    parse_relay_str(text, Path::new("/srv/relay.toml"), &NO_FILES)
}

fn errors(text: &str) -> ConfigErrors {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn minimal_file_gets_defaults() {
    let r = parse(&good()).unwrap();
    assert_eq!(r.relay.ca, Path::new("/srv/pki/ca.pem"));
    assert_eq!(r.relay.tunnel_listen.to_string(), "0.0.0.0:20001");
    assert_eq!(r.relay.limits, Limits::default());
    assert_eq!(
        r.relay.limits.idle_timeout(),
        std::time::Duration::from_secs(600)
    );
    assert!(r.relay.http_proxy.is_none());
    assert_eq!(
        r.relay.socks5.as_ref().unwrap().listen.to_string(),
        "127.0.0.1:20004"
    );
    assert_eq!(r.identity_providers[0].algorithms, [JwtAlgorithm::Es256]);
    assert_eq!(
        r.identity_providers[0].clock_skew(),
        std::time::Duration::from_secs(60)
    );
    assert_eq!(r.tenants[0].default_location, "default");
    assert!(r.trusted_tenant().is_none());
    assert!(r.warnings().is_empty());
}

#[test]
fn missing_ca_says_client_certificates_cannot_be_switched_off() {
    let text = good().replace("ca = \"pki/ca.pem\"\n", "");
    let errs = errors(&text);
    let e = error_at(&errs, "relay.ca");
    assert!(e.message.contains("cannot be switched off"), "{e}");
    assert_eq!((e.line, e.column), (1, 2));
}

#[test]
fn none_and_hmac_algorithms_are_refused_at_the_element() {
    for (alg, says) in [
        ("none", "unsigned"),
        ("HS256", "shared-secret"),
        ("hs512", "shared-secret"),
        ("XY999", "unknown JWT algorithm"),
    ] {
        let text = good().replace("[\"ES256\"]", &format!("[\"ES256\", \"{alg}\"]"));
        let errs = errors(&text);
        let e = error_at(&errs, "identity_provider[0].algorithms[1]");
        assert!(e.message.contains(says), "{alg}: {e}");
        assert_eq!(
            (e.line, e.column),
            (line_of(&text, alg), column_of(&text, alg) - 1)
        );
    }
}

#[test]
fn identity_provider_needs_keys_and_non_empty_claims() {
    let text = good()
        .replace("jwks = \"keys/corp.jwks.json\"\n", "")
        .replace("audience = \"sallyport\"", "audience = \" \"")
        .replace("[\"ES256\"]", "[]");
    let errs = errors(&text);
    assert!(error_at(&errs, "identity_provider[0]")
        .message
        .contains("has no keys"));
    assert!(error_at(&errs, "identity_provider[0].audience")
        .message
        .contains("empty"));
    assert!(error_at(&errs, "identity_provider[0].algorithms")
        .message
        .contains("empty"));
}

#[test]
fn several_keys_need_distinct_kids() {
    let keys = "\n  [[identity_provider.key]]\n  file = \"a.pem\"\n  kid = \"k\"\n\n  [[identity_provider.key]]\n  file = \"b.pem\"\n  kid = \"k\"\n\n  [[identity_provider.key]]\n  file = \"c.pem\"\n";
    let text = good().replace("jwks = \"keys/corp.jwks.json\"\n", keys);
    let errs = errors(&text);
    let e = error_at(&errs, "identity_provider[0].key[1].kid");
    assert!(
        e.message
            .contains("already defined at identity_provider[0].key[0].kid"),
        "{e}"
    );
    assert!(error_at(&errs, "identity_provider[0].key[2]")
        .message
        .contains("kid is missing"));
}

#[test]
fn front_door_without_any_authentication_is_refused() {
    let text = good();
    let start = text.find("[[identity_provider]]").unwrap();
    let end = text.find("[[tenant]]").unwrap();
    let text = format!("{}{}", &text[..start], &text[end..]);
    let text = text.split("  [[tenant.user]]").next().unwrap().to_owned();
    let text = text.replace(
        "[relay.socks5]",
        "[relay.http_proxy]\nlisten = \"127.0.0.1:20003\"\n\n[relay.socks5]",
    );
    let errs = errors(&text);
    for door in ["relay.http_proxy", "relay.socks5"] {
        let e = error_at(&errs, door);
        assert!(e.message.contains("nobody can authenticate"), "{e}");
        assert!(e.message.contains(door), "{e}");
        assert_eq!(e.line, line_of(&text, &format!("[{door}]")));
    }
    // An explicit trusted tenant opens the door, with a warning.
    let trusted = text.replace("name = \"acme\"", "name = \"acme\"\ntrusted = true");
    let r = parse(&trusted).unwrap();
    assert_eq!(r.trusted_tenant().unwrap().name, "acme");
    assert_eq!(r.warnings().len(), 1);
    assert_eq!(r.warnings()[0].key, "tenant[0].trusted");
    assert!(r.warnings()[0].message.contains("no credentials"));
}

#[test]
fn front_door_without_tenants_is_refused() {
    let text = good();
    let text = &text[..text.find("[[tenant]]").unwrap()];
    let errs = errors(text);
    assert!(error_at(&errs, "relay.socks5")
        .message
        .contains("no [[tenant]]"));
}

#[test]
fn second_trusted_tenant_and_duplicate_tenant_are_refused() {
    let extra = "\n[[tenant]]\nname = \"beta\"\ntrusted = true\n\n[[tenant]]\nname = \"gamma\"\ntrusted = true\n\n[[tenant]]\nname = \"beta\"\n";
    let text = good() + extra;
    let errs = errors(&text);
    let e = error_at(&errs, "tenant[2].trusted");
    assert!(e.message.contains("tenant[1]"), "{e}");
    assert!(error_at(&errs, "tenant[3]")
        .message
        .contains("already defined at tenant[1]"));
}

#[test]
fn default_location_must_be_listed() {
    let text = good().replace(
        "name = \"acme\"",
        "name = \"acme\"\ndefault_location = \"paris\"",
    );
    let errs = errors(&text);
    let e = error_at(&errs, "tenant[0].default_location");
    assert!(
        e.message.contains("not in locations [default, berlin]"),
        "{e}"
    );
    assert_eq!(e.line, line_of(&text, "paris"));
}

#[test]
fn plain_and_malformed_password_hashes_are_refused() {
    for (hash, says) in [
        ("hunter2", "plain passwords are refused"),
        ("$2b$12$abcdefghijklmnopqrstuv", "not accepted"),
        (
            "$argon2id$v=16$m=19456,t=2,p=1$c29tZXNhbHRzb21l$0gV5Y1G0b0vLu6o2W1gkWQz3",
            "v=19",
        ),
        (
            "$argon2id$v=19$m=19456,t=2$c29tZXNhbHRzb21l$0gV5Y1G0b0vLu6o2W1gkWQz3",
            "m, t and p",
        ),
        (
            "$argon2id$v=19$m=19456,t=2,p=1$c29t$0gV5Y1G0b0vLu6o2W1gkWQz3",
            "salt",
        ),
        (
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21l$short",
            "hash must",
        ),
        ("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21l", "fields"),
    ] {
        let text = good().replace(HASH, hash);
        let errs = errors(&text);
        let e = error_at(&errs, "tenant[0].user[0].password_hash");
        assert!(e.message.contains(says), "{hash}: {e}");
        assert_eq!(e.line, line_of(&text, "password_hash"));
    }
    crate::config::relay::check_password_hash(HASH).unwrap();
}

#[test]
fn user_names_are_unique_across_tenants() {
    let extra = format!("\n[[tenant]]\nname = \"beta\"\n  [[tenant.user]]\n  name = \"app1\"\n  password_hash = \"{HASH}\"\n");
    let errs = errors(&(good() + &extra));
    assert!(error_at(&errs, "tenant[1].user[0]")
        .message
        .contains("tenant[0].user[0]"));
}

#[test]
fn listen_addresses_must_be_ip_port_and_distinct() {
    let text = good().replace("127.0.0.1:20004", "localhost:20004");
    let errs = errors(&text);
    let e = error_at(&errs, "relay.socks5.listen");
    assert!(e.message.contains("not a listen address"), "{e}");
    assert_eq!((e.line, e.column), (line_of(&text, "localhost"), 10));
    let text = good().replace(
        "key = \"pki/relay.key\"",
        "key = \"pki/relay.key\"\ntunnel_listen = \"127.0.0.1:20004\"",
    );
    let errs = errors(&text);
    assert!(error_at(&errs, "relay.socks5.listen")
        .message
        .contains("relay.tunnel_listen"));
}

#[test]
fn limits_are_checked_independently_of_the_relay_table() {
    let text = good()
        .replace(
            "[relay.socks5]",
            "[relay.limits]\nheader_bytes = 100\nkeepalive_secs = 0\nidle_timeout_secs = 40000000\n\n[relay.socks5]",
        )
        .replace(
            "cert = \"pki/relay.pem\"",
            "cert = \"pki/relay.pem\"\nthreads = 5000",
        );
    let errs = errors(&text);
    assert!(error_at(&errs, "relay.limits.header_bytes")
        .message
        .contains("smaller than request_line_bytes"));
    assert!(error_at(&errs, "relay.limits.keepalive_secs")
        .message
        .contains("at least 1"));
    assert!(error_at(&errs, "relay.limits.idle_timeout_secs")
        .message
        .contains("at most 31536000 (a year)"));
    assert!(error_at(&errs, "relay.threads")
        .message
        .contains("at most 1024"));
    let text = good()
        .replace(
            "[relay.socks5]",
            "[relay.limits]\nheader_bytez = 1\n\n[relay.socks5]",
        )
        .replace("issuer = ", "isuer = ");
    let errs = errors(&text);
    error_at(&errs, "relay.limits.header_bytez");
    error_at(&errs, "identity_provider[0].isuer");
}

#[test]
fn no_front_door_warns() {
    let text = good().replace("[relay.socks5]\nlisten = \"127.0.0.1:20004\"\n", "");
    let r = parse(&text).unwrap();
    assert_eq!(r.warnings()[0].key, "relay");
}

#[test]
fn connector_tables_in_a_relay_file_are_refused() {
    let errs = errors(&(good() + "\n[[subaccount]]\ntenant = \"a\"\n"));
    assert!(error_at(&errs, "subaccount")
        .message
        .contains("its own file"));
}

#[test]
fn missing_ca_is_reported_even_when_the_relay_table_has_other_errors() {
    let text = good()
        .replace("ca = \"pki/ca.pem\"\n", "")
        .replace("cert = \"pki/relay.pem\"", "cert = 1\nthreads = -1");
    let errs = errors(&text);
    let keys: Vec<&str> = errs.0.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["relay.ca", "relay.cert", "relay.threads"], "{errs}");
}
