//! Connector file: each error with its key, line and column.

use super::*;

const GOOD: &str = r#"[connector]
audit_dir = "audit"

[[subaccount]]
tenant = "acme"
relay = "relay.example.com:20001"
ca = "pki/ca.pem"
cert = "pki/c.pem"
key = "pki/c.key"

  [[subaccount.system]]
  virtual_host = "erp.virtual"
  virtual_port = 443
  internal_host = "erp01"
  internal_port = 8443
  protocol = "https"

    [[subaccount.system.resource]]
    path = "/api"
    match = "prefix"
"#;

fn parse(text: &str) -> Result<ConnectorFile, ConfigErrors> {
    parse_connector_str(text, Path::new("/etc/sallyport/c.toml"), &NO_FILES)
}

fn errors(text: &str) -> ConfigErrors {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn minimal_file_gets_defaults_and_absolute_paths() {
    let c = parse(GOOD).unwrap();
    let s = &c.subaccounts[0];
    assert_eq!(s.location, "default");
    assert_eq!(s.tunnels, 2);
    assert_eq!(s.audit, AuditLevel::Security);
    assert_eq!(s.relay_name, "relay.example.com");
    assert_eq!(s.ca, Path::new("/etc/sallyport/pki/ca.pem"));
    assert_eq!(c.connector.audit_dir, Path::new("/etc/sallyport/audit"));
    assert_eq!(c.connector.keepalive(), std::time::Duration::from_secs(10));
    assert_eq!(
        c.connector.connect_timeout(),
        std::time::Duration::from_secs(5)
    );
    assert_eq!(
        c.connector.response_timeout(),
        std::time::Duration::from_secs(30)
    );
    assert_eq!(
        c.connector.idle_timeout(),
        std::time::Duration::from_secs(600)
    );
    assert_eq!(c.connector.audit_retention(), None);
    assert_eq!(s.systems[0].resources[0].path, "/api");
    assert_eq!(
        c.source_map()
            .locate("subaccount[0].system[0].resource[0].path"),
        Some((19, 5))
    );
}

#[test]
fn unknown_key_is_reported_at_the_key() {
    let text = GOOD.replace(
        "  protocol = \"https\"",
        "  protocol = \"https\"\n  colour = \"red\"",
    );
    let errs = errors(&text);
    let e = error_at(&errs, "subaccount[0].system[0].colour");
    assert_eq!(e.kind, ErrorKind::Schema);
    assert_eq!((e.line, e.column), (line_of(&text, "colour"), 3));
    assert!(e.message.contains("unknown field `colour`"), "{e}");
    assert!(
        e.to_string().starts_with(&format!(
            "/etc/sallyport/c.toml:{}:3: subaccount[0].system[0].colour: unknown field",
            e.line
        )),
        "{e}"
    );
}

#[test]
fn missing_field_names_the_field_in_the_key() {
    let text = GOOD.replace("relay = \"relay.example.com:20001\"\n", "");
    let errs = errors(&text);
    let e = error_at(&errs, "subaccount[0].relay");
    assert!(e.message.contains("missing field `relay`"), "{e}");
    assert_eq!(e.line, line_of(&text, "[[subaccount]]"));
}

#[test]
fn independent_errors_are_all_reported_in_file_order() {
    let text = GOOD
        .replace("virtual_port = 443", "virtual_port = 70000")
        .replace("match = \"prefix\"", "match = \"glob\"")
        .replace("tenant = \"acme\"", "tenant = \"Acme\"")
        + "\n[[subaccount]]\ntenant = \"acme\"\nrelay = \"r:1\"\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\ntunnels = 65\n";
    let errs = errors(&text);
    let keys: Vec<&str> = errs.0.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "subaccount[0].tenant",
            "subaccount[0].system[0].virtual_port",
            "subaccount[0].system[0].resource[0].match",
            "subaccount[1].tunnels",
        ],
        "{errs}"
    );
    let vp = error_at(&errs, "subaccount[0].system[0].virtual_port");
    assert_eq!(
        (vp.line, vp.column),
        (line_of(&text, "70000"), column_of(&text, "70000"))
    );
    assert!(vp.message.contains("70000 is not a port"), "{vp}");
}

#[test]
fn duplicate_tenant_location_is_refused() {
    let second = "\n[[subaccount]]\ntenant = \"acme\"\nlocation = \"default\"\nrelay = \"r:1\"\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\n";
    let text = format!("{GOOD}{second}");
    let errs = errors(&text);
    let e = error_at(&errs, "subaccount[1]");
    assert!(
        e.message.contains("already configured at subaccount[0]"),
        "{e}"
    );
    assert_eq!(e.line, u32::try_from(GOOD.lines().count()).unwrap() + 2);
}

#[test]
fn relay_must_be_host_port() {
    for (bad, says) in [
        ("relay.example.com", "no port"),
        ("relay.example.com:0", "not a port"),
        ("::1:20001", "brackets"),
    ] {
        let text = GOOD.replace("relay.example.com:20001", bad);
        let errs = errors(&text);
        let e = error_at(&errs, "subaccount[0].relay");
        assert!(e.message.contains(says), "{bad}: {e}");
        assert_eq!((e.line, e.column), (6, 1));
    }
}

#[test]
fn tunnels_must_be_1_to_64() {
    for n in [0, 65, 1000] {
        let text = GOOD.replace(
            "key = \"pki/c.key\"",
            &format!("key = \"pki/c.key\"\ntunnels = {n}"),
        );
        let errs = errors(&text);
        let e = error_at(&errs, "subaccount[0].tunnels");
        assert!(e.message.contains("1 to 64"), "{e}");
        assert_eq!(e.line, line_of(&text, "tunnels ="));
    }
    for n in [1, 64] {
        let text = GOOD.replace(
            "key = \"pki/c.key\"",
            &format!("key = \"pki/c.key\"\ntunnels = {n}"),
        );
        assert_eq!(parse(&text).unwrap().subaccounts[0].tunnels, n);
    }
}

#[test]
fn unknown_audit_level_lists_the_levels() {
    let text = GOOD.replace(
        "key = \"pki/c.key\"",
        "key = \"pki/c.key\"\naudit = \"verbose\"",
    );
    let errs = errors(&text);
    let e = error_at(&errs, "subaccount[0].audit");
    assert!(e.message.contains("`security`, `all`, `off`"), "{e}");
    assert_eq!((e.line, e.column), (line_of(&text, "verbose"), 9));
}

#[test]
fn names_are_checked() {
    let text = GOOD.replace("tenant = \"acme\"", "tenant = \"acme\"\nlocation = \"-x\"");
    let errs = errors(&text);
    let e = error_at(&errs, "subaccount[0].location");
    assert!(e.message.contains("must not start"), "{e}");
}

#[test]
fn relay_name_defaults_and_is_checked() {
    let text = GOOD.replace(
        "key = \"pki/c.key\"",
        "key = \"pki/c.key\"\nrelay_name = \"not a name\"",
    );
    let e = errors(&text);
    assert!(error_at(&e, "subaccount[0].relay_name")
        .message
        .contains("not a DNS name"));
    let text = GOOD.replace("relay.example.com:20001", "[2001:db8::1]:20001");
    assert_eq!(
        parse(&text).unwrap().subaccounts[0].relay_name,
        "2001:db8::1"
    );
}

#[test]
fn zero_timeouts_and_bad_syslog_address_are_refused() {
    let text = GOOD.replace(
        "audit_dir = \"audit\"",
        "audit_dir = \"audit\"\nconnect_timeout_secs = 0\nidle_timeout_secs = 18446744073709551615\n[connector.syslog]\naddress = \"collector\"\ntransport = \"udp\"",
    );
    let errs = errors(&text);
    assert!(error_at(&errs, "connector.connect_timeout_secs")
        .message
        .contains("at least 1"));
    // A deadline that far out would overflow the clock when armed.
    let e = error_at(&errs, "connector.idle_timeout_secs");
    assert!(e.message.contains("at most 31536000"), "{e}");
    let e = error_at(&errs, "connector.syslog.address");
    assert!(e.message.contains("no port"), "{e}");
    assert_eq!(e.line, line_of(&text, "collector"));
}

#[test]
fn syslog_errors_do_not_hide_connector_errors() {
    let text = GOOD.replace(
        "audit_dir = \"audit\"",
        "audit_dir = \"audit\"\nio = \"kqueue\"\n[connector.syslog]\naddress = \"c:514\"\ntransport = \"quic\"",
    );
    let errs = errors(&text);
    error_at(&errs, "connector.io");
    error_at(&errs, "connector.syslog.transport");
}

#[test]
fn missing_tables_are_reported() {
    let errs = errors("[connector]\naudit_dir = \"a\"\n");
    assert!(error_at(&errs, "subaccount")
        .message
        .contains("at least one"));
    let errs = errors(
        "[[subaccount]]\ntenant = \"a\"\nrelay = \"r:1\"\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\n",
    );
    assert!(error_at(&errs, "connector")
        .message
        .contains("missing [connector]"));
    let errs = errors("subaccount = 3\n[connector]\naudit_dir = \"a\"\n");
    let e = error_at(&errs, "subaccount");
    assert!(e.message.contains("array of tables"), "{e}");
    assert_eq!((e.line, e.column), (1, 14));
    let errs = errors("subaccount = []\n[connector]\naudit_dir = \"a\"\n");
    assert!(error_at(&errs, "subaccount")
        .message
        .contains("at least one"));
}

#[test]
fn relay_table_in_a_connector_file_is_refused() {
    let text = format!("{GOOD}\n[relay]\nca = \"x\"\n");
    let errs = errors(&text);
    assert!(error_at(&errs, "relay").message.contains("its own file"));
}

#[test]
fn file_checks_report_missing_files() {
    let dir = std::env::temp_dir().join(format!("sallyport-config-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pki")).unwrap();
    std::fs::write(dir.join("pki/ca.pem"), "x").unwrap();
    std::fs::write(dir.join("pki/c.pem"), "x").unwrap();
    let errs = parse_connector_str(GOOD, &dir.join("c.toml"), &Options::default()).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(errs.len(), 1, "{errs}");
    let e = error_at(&errs, "subaccount[0].key");
    assert_eq!(e.kind, ErrorKind::MissingFile);
    assert!(e.message.contains("c.key"), "{e}");
    assert_eq!(e.line, line_of(GOOD, "key = "));
}

#[test]
fn subaccount_without_systems_warns() {
    let text = GOOD.split("  [[subaccount.system]]").next().unwrap();
    let c = parse(text).unwrap();
    assert_eq!(c.warnings().len(), 1);
    assert_eq!(c.warnings()[0].key, "subaccount[0]");
    assert!(c.warnings()[0].message.contains("reach nothing"));
}

#[test]
fn quoted_keys_are_quoted_in_the_key_path() {
    let text = GOOD.replace(
        "audit_dir = \"audit\"",
        "audit_dir = \"audit\"\n\"a.b\" = 1",
    );
    let errs = errors(&text);
    let e = error_at(&errs, "connector.\"a.b\"");
    assert_eq!(e.line, 3);
}

#[test]
fn every_bad_key_of_one_table_is_reported_once() {
    let text = GOOD
        .replace("relay = \"relay.example.com:20001\"\n", "")
        .replace(
            "tenant = \"acme\"",
            "tenant = 7\ntunnels = \"two\"\ncolour = 1\naudit = 3",
        );
    let errs = errors(&text);
    let keys: Vec<&str> = errs.0.iter().map(|e| e.key.as_str()).collect();
    // `tenant` had a bad value: no second "missing field `tenant`" after it was taken out.
    assert_eq!(
        keys,
        [
            "subaccount[0].relay",
            "subaccount[0].tenant",
            "subaccount[0].tunnels",
            "subaccount[0].colour",
            "subaccount[0].audit",
        ],
        "{errs}"
    );
    assert_eq!(
        error_at(&errs, "subaccount[0].relay").line,
        line_of(&text, "[[subaccount]]")
    );
    let audit = error_at(&errs, "subaccount[0].audit");
    assert!(audit.message.contains("expected a string"), "{audit}");
    assert_eq!((audit.line, audit.column), (line_of(&text, "audit = 3"), 9));
}

#[test]
fn audit_off_warns() {
    let text = GOOD.replace(
        "key = \"pki/c.key\"",
        "key = \"pki/c.key\"\naudit = \"off\"",
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.warnings().len(), 1, "{:?}", c.warnings());
    let w = &c.warnings()[0];
    assert_eq!(
        (w.key.as_str(), w.line),
        ("subaccount[0].audit", line_of(&text, "audit = "))
    );
    assert!(w.message.contains("no record"), "{w}");
}

#[test]
fn source_map_positions_errors_found_later() {
    let c = parse(GOOD).unwrap();
    let key = "subaccount[0].system[0].resource[0].path";
    let e = c
        .source_map()
        .error(key, ErrorKind::Invalid, "path has an empty segment");
    assert_eq!(
        e.to_string(),
        format!(
            "/etc/sallyport/c.toml:{}:5: {key}: path has an empty segment",
            line_of(GOOD, "path = ")
        )
    );
    // A key left at its default is positioned at its table.
    let (line, _) = c
        .source_map()
        .locate_nearest("subaccount[0].system[0].enabled");
    assert_eq!(line, line_of(GOOD, "[[subaccount.system]]"));
    assert_eq!(
        c.source_map().locate("subaccount[0].system[0].enabled"),
        None
    );
}
