//! Unit tests of the policy: path rules, compile errors, decisions, the token's derived values.

mod corpus;
mod props;

use super::*;

pub(super) fn res(path: &str, matching: PathMatch) -> ResourceSpec {
    ResourceSpec {
        path: path.into(),
        matching,
        enabled: true,
        websocket: false,
    }
}

pub(super) fn http_system(vhost: &str, port: u16, resources: Vec<ResourceSpec>) -> SystemSpec {
    SystemSpec {
        virtual_host: vhost.into(),
        virtual_port: PortSpec::single(port),
        internal_host: "10.0.0.5".into(),
        internal_port: PortSpec::single(8080),
        protocol: Protocol::Http,
        host_in_header: HostInHeader::Virtual,
        enabled: true,
        resources,
    }
}

pub(super) fn get<'a>(authority: &'a str, path: &'a str) -> HttpRequest<'a> {
    HttpRequest {
        authority: authority.as_bytes(),
        default_port: 80,
        path: path.as_bytes(),
        websocket_upgrade: false,
    }
}

fn kinds(systems: &[SystemSpec]) -> Vec<(usize, Option<usize>, PolicyErrorKind)> {
    match SubaccountPolicy::compile(systems) {
        Ok(_) => vec![],
        Err(e) => e
            .into_iter()
            .map(|e| (e.system, e.resource, e.kind))
            .collect(),
    }
}

#[test]
fn every_path_error_is_produced() {
    use PathError::*;
    let cases: &[(&str, PathError)] = &[
        ("", NotOriginForm),
        ("a/b", NotOriginForm),
        ("http://x/a", NotOriginForm),
        ("/a#b", Fragment { at: 2 }),
        ("/a b", IllegalByte { byte: b' ', at: 2 }),
        ("/a\x01", IllegalByte { byte: 1, at: 2 }),
        ("/\u{e9}", IllegalByte { byte: 0xc3, at: 1 }),
        ("/a\"", IllegalByte { byte: b'"', at: 2 }),
        ("/a\\b", Backslash { at: 2 }),
        ("/a;b", MatrixParameter { at: 2 }),
        ("/..;/x", MatrixParameter { at: 3 }),
        ("/a%2", BadEscape { at: 2 }),
        ("/a%zz", BadEscape { at: 2 }),
        ("/a?x=%g1", BadEscape { at: 5 }),
        ("/%252e", DoubleEncoding { at: 1 }),
        ("/%2e%2e/x", EncodedUnreserved { byte: b'.', at: 1 }),
        ("/%41", EncodedUnreserved { byte: b'A', at: 1 }),
        ("/%7E", EncodedUnreserved { byte: b'~', at: 1 }),
        ("/a%2fb", EncodedSeparator { byte: b'/', at: 2 }),
        ("/a%5Cb", EncodedSeparator { byte: b'\\', at: 2 }),
        ("/a%3bb", EncodedSeparator { byte: b';', at: 2 }),
        ("/a%00", EncodedControl { byte: 0, at: 2 }),
        ("/a%0d%0a", EncodedControl { byte: 13, at: 2 }),
        ("/a%7f", EncodedControl { byte: 0x7f, at: 2 }),
        ("/./a", DotSegment { at: 1 }),
        ("/a/..", DotSegment { at: 3 }),
        ("/a/../b", DotSegment { at: 3 }),
        ("//a", EmptySegment { at: 1 }),
        ("/a//b", EmptySegment { at: 3 }),
        ("/a//", EmptySegment { at: 3 }),
        ("/%c0%af", InvalidUtf8 { at: 1 }),
        ("/x/%e0%80%ae", InvalidUtf8 { at: 3 }),
        ("/%ff", InvalidUtf8 { at: 1 }),
    ];
    for (raw, want) in cases {
        assert_eq!(check_path(raw.as_bytes()), Err(*want), "{raw:?}");
        assert!(!want.reason().is_empty());
        assert!(want.to_string().contains(want.reason()));
    }
}

#[test]
fn accepted_paths_keep_their_bytes_and_decode_segments() {
    let p = check_path(b"/a/caf%C3%A9/x%20y/?q=%2e%2e/..;#").err();
    assert_eq!(
        p,
        Some(PathError::Fragment { at: 32 }),
        "# is refused in the query too"
    );
    let p = check_path(b"/a/caf%C3%A9/x%20y/?q=%2e%2e/..;").unwrap();
    assert_eq!(&p.raw()[..], b"/a/caf%C3%A9/x%20y/?q=%2e%2e/..;");
    assert_eq!(p.decoded(), "/a/caf\u{e9}/x y/");
    assert_eq!(
        p.segments().collect::<Vec<_>>(),
        ["a", "caf\u{e9}", "x y", ""]
    );
    assert_eq!(p.query(), Some(&b"q=%2e%2e/..;"[..]));
    let root = check_path(b"/").unwrap();
    assert_eq!(root.segments().count(), 0);
    assert_eq!(root.query(), None);
    let q = check_path(b"/?").unwrap();
    assert_eq!(q.query(), Some(&b""[..]));
    assert_eq!(check_path(b"/a.b/..c/...").unwrap().segments().count(), 3);
    assert_eq!(
        check_path(b"/%25zz/%2541").err(),
        Some(PathError::DoubleEncoding { at: 7 })
    );
    assert_eq!(check_path(b"/%25zz").unwrap().decoded(), "/%zz");
}

#[test]
fn compile_reports_every_problem_with_its_location() {
    use PolicyErrorKind::*;
    let mut tcp = http_system("ldap.virtual", 389, vec![res("/x", PathMatch::Exact)]);
    tcp.protocol = Protocol::Tcp;
    let mut ranged_http = http_system("r.virtual", 80, vec![]);
    ranged_http.virtual_port = "80-81".parse().unwrap();
    ranged_http.internal_port = "80-81".parse().unwrap();
    let mut unequal = http_system("u.virtual", 1, vec![]);
    unequal.protocol = Protocol::Tcps;
    unequal.virtual_port = "1000-1009".parse().unwrap();
    unequal.internal_port = "2000-2004".parse().unwrap();
    let mut overlap_a = unequal.clone();
    overlap_a.virtual_host = "o.virtual".into();
    overlap_a.internal_port = "2000-2009".parse().unwrap();
    let mut overlap_b = overlap_a.clone();
    overlap_b.virtual_host = "O.Virtual".into();
    overlap_b.virtual_port = "1009-1010".parse().unwrap();
    overlap_b.internal_port = "1-2".parse().unwrap();
    let mut bad_internal = http_system("i.virtual", 80, vec![]);
    bad_internal.internal_host = "a b".into();
    let mut zero = http_system("z.virtual", 80, vec![]);
    zero.internal_port = PortSpec { first: 0, last: 0 };
    let systems = vec![
        http_system("erp.virtual", 80, vec![res("/a", PathMatch::Prefix)]),
        http_system("ERP.virtual", 80, vec![]),
        http_system("user@erp.virtual", 80, vec![]),
        http_system("erp.virtual.", 80, vec![]),
        http_system("2130706433", 80, vec![]),
        http_system("", 80, vec![]),
        tcp,
        ranged_http,
        unequal,
        overlap_a,
        overlap_b,
        bad_internal,
        zero,
        http_system(
            "res.virtual",
            80,
            vec![
                res("/a/../b", PathMatch::Prefix),
                res("/a?x", PathMatch::Exact),
                res("/ok", PathMatch::Prefix),
                res("/ok", PathMatch::Prefix),
                res("/ok", PathMatch::Exact),
                res("nope", PathMatch::Exact),
            ],
        ),
    ];
    let got = kinds(&systems);
    let want = vec![
        (1, None, Overlap { other: 0 }),
        (2, None, got_bad_virtual(&got, 2)),
        (3, None, got_bad_virtual(&got, 3)),
        (4, None, got_bad_virtual(&got, 4)),
        (5, None, got_bad_virtual(&got, 5)),
        (6, None, ResourcesOnTcp),
        (7, None, RangeOnHttp),
        (
            8,
            None,
            UnequalRangeWidths {
                virtual_ports: 10,
                internal_ports: 5,
            },
        ),
        (10, None, Overlap { other: 9 }),
        (11, None, got_bad_internal(&got, 11)),
        (12, None, BadPort(PortSpec { first: 0, last: 0 })),
        (
            13,
            Some(0),
            BadResourcePath(PathError::DotSegment { at: 3 }),
        ),
        (13, Some(1), QueryInResourcePath),
        (13, Some(3), DuplicateResource { other: 2 }),
        (13, Some(5), BadResourcePath(PathError::NotOriginForm)),
    ];
    assert_eq!(got, want);
    let errs = SubaccountPolicy::compile(&systems).unwrap_err();
    let text = errs[13].to_string();
    assert!(
        text.starts_with("system #13 (res.virtual), resource #3: "),
        "{text}"
    );
    assert!(errs[0].to_string().contains("system #0"), "{}", errs[0]);
}

fn got_bad_virtual(
    got: &[(usize, Option<usize>, PolicyErrorKind)],
    system: usize,
) -> PolicyErrorKind {
    match got.iter().find(|g| g.0 == system).map(|g| &g.2) {
        Some(k @ PolicyErrorKind::BadVirtualHost(_)) => k.clone(),
        other => panic!("system {system}: expected BadVirtualHost, got {other:?}"),
    }
}

fn got_bad_internal(
    got: &[(usize, Option<usize>, PolicyErrorKind)],
    system: usize,
) -> PolicyErrorKind {
    match got.iter().find(|g| g.0 == system).map(|g| &g.2) {
        Some(k @ PolicyErrorKind::BadInternalHost(_)) => k.clone(),
        other => panic!("system {system}: expected BadInternalHost, got {other:?}"),
    }
}

fn sample() -> SubaccountPolicy {
    let mut ws = res("/ws", PathMatch::Prefix);
    ws.websocket = true;
    let mut disabled_res = res("/off", PathMatch::Prefix);
    disabled_res.enabled = false;
    let mut off = http_system("off.virtual", 80, vec![res("/", PathMatch::Prefix)]);
    off.enabled = false;
    let mut tcp = http_system("ldap.virtual", 389, vec![]);
    tcp.protocol = Protocol::Ldaps;
    tcp.virtual_port = "389-390".parse().unwrap();
    tcp.internal_port = "1389-1390".parse().unwrap();
    SubaccountPolicy::compile(&[
        http_system(
            "erp.virtual",
            80,
            vec![
                res("/api", PathMatch::Prefix),
                res("/api/admin", PathMatch::Exact),
                res("/exact", PathMatch::Exact),
                ws,
                disabled_res,
            ],
        ),
        off,
        tcp,
    ])
    .unwrap()
}

#[test]
fn every_denial_is_produced_with_its_status() {
    let p = sample();
    let cases: Vec<(HttpRequest<'_>, Denial, u16)> = vec![
        (
            get("erp.virtual", "/api/../x"),
            Denial::BadPath(PathError::DotSegment { at: 5 }),
            400,
        ),
        (get("user@erp.virtual", "/api"), Denial::BadAuthority, 400),
        (get("erp.virtual.", "/api"), Denial::BadAuthority, 400),
        (get("erp.virtual:0", "/api"), Denial::BadAuthority, 400),
        (get("erp.virtual:080", "/api"), Denial::BadAuthority, 400),
        (get("", "/api"), Denial::BadAuthority, 400),
        (get("other.virtual", "/api"), Denial::NoSuchSystem, 403),
        (get("off.virtual", "/api"), Denial::NoSuchSystem, 403),
        (get("erp.virtual:81", "/api"), Denial::NoSuchSystem, 403),
        (get("[::1]", "/api"), Denial::NoSuchSystem, 403),
        (get("erp.virtual", "/api-x"), Denial::NotWhitelisted, 403),
        (get("erp.virtual", "/off"), Denial::NotWhitelisted, 403),
        (
            get("erp.virtual", "/exact/sub"),
            Denial::NotWhitelisted,
            403,
        ),
        (get("ldap.virtual:389", "/"), Denial::WrongProtocol, 405),
        (
            HttpRequest {
                websocket_upgrade: true,
                ..get("erp.virtual", "/api/x")
            },
            Denial::WebSocketNotAllowed,
            403,
        ),
    ];
    for (req, want, status) in cases {
        let got = p.check_http(&req).err();
        assert_eq!(got, Some(want), "{req:?}");
        assert_eq!(want.status(), status);
        assert!(!want.reason().is_empty());
    }
    // Unmapped, disabled and other-port all answer alike.
    let texts: Vec<String> = ["other.virtual", "off.virtual", "erp.virtual:81"]
        .iter()
        .map(|a| p.check_http(&get(a, "/api")).unwrap_err().to_string())
        .collect();
    assert!(texts.iter().all(|t| *t == texts[0]), "{texts:?}");
    assert_eq!(
        p.check_connect(b"erp.virtual:80").err(),
        Some(Denial::WrongProtocol)
    );
    assert_eq!(
        p.check_connect(b"ldap.virtual").err(),
        Some(Denial::BadAuthority)
    );
    assert_eq!(
        p.check_connect(b"10.0.0.5:1389").err(),
        Some(Denial::NoSuchSystem)
    );
    assert_eq!(
        p.check_connect(b"ldap.virtual:391").err(),
        Some(Denial::NoSuchSystem)
    );
}

#[test]
fn admissions_carry_what_is_forwarded() {
    let p = sample();
    assert_eq!(p.len(), 3);
    assert!(!p.is_empty());
    assert!(p.uses_tls(), "ldap.virtual is ldaps");
    assert!(SubaccountPolicy::compile(&[]).unwrap().is_empty());

    let a = p
        .check_http(&get("ERP.Virtual:80", "/api/x%20y?q=1"))
        .unwrap();
    assert_eq!(a.virtual_host(), "erp.virtual");
    assert_eq!(a.virtual_port(), 80);
    assert_eq!(a.internal_host(), "10.0.0.5");
    assert_eq!(a.internal_port(), 8080);
    assert_eq!(a.internal_authority(), "10.0.0.5:8080");
    assert_eq!(a.protocol(), Protocol::Http);
    assert_eq!(a.rule(), Some("/api"));
    assert_eq!(a.system_index(), 0);
    let path = a.path().unwrap();
    assert_eq!(&path.raw()[..], b"/api/x%20y?q=1");
    assert_eq!(&a.host_header()[..], b"erp.virtual");
    assert_eq!(a.forwarded_host(), None);

    // The most specific resource decides.
    let admin = p.check_http(&get("erp.virtual", "/api/admin")).unwrap();
    assert_eq!(admin.rule(), Some("/api/admin"));
    let ws = HttpRequest {
        websocket_upgrade: true,
        ..get("erp.virtual", "/ws/chat")
    };
    assert_eq!(p.check_http(&ws).unwrap().rule(), Some("/ws"));

    // Port ranges map at the same offset.
    let c = p.check_connect(b"LDAP.virtual:390").unwrap();
    assert_eq!((c.internal_port(), c.protocol()), (1390, Protocol::Ldaps));
    assert!(c.path().is_none() && c.rule().is_none());
}

#[test]
fn host_in_header_and_location_rewrite() {
    let mut sys = http_system("erp.virtual", 8000, vec![res("/", PathMatch::Prefix)]);
    sys.host_in_header = HostInHeader::Internal;
    sys.internal_host = "ERP-Backend.corp".into();
    let mut v6 = http_system("v6.virtual", 80, vec![res("/", PathMatch::Prefix)]);
    v6.internal_host = "[fd00::5]".into();
    v6.internal_port = PortSpec::single(80);
    v6.host_in_header = HostInHeader::Internal;
    let p = SubaccountPolicy::compile(&[sys, v6]).unwrap();
    let a = p.check_http(&get("erp.virtual:8000", "/x")).unwrap();
    assert_eq!(&a.host_header()[..], b"ERP-Backend.corp:8080");
    assert_eq!(
        a.forwarded_host().as_deref(),
        Some(&b"erp.virtual:8000"[..])
    );
    let rw = |v: &str| a.rewrite_location(v.as_bytes()).map(|b| b.to_vec());
    let some = |v: &str| Some(v.as_bytes().to_vec());
    assert_eq!(
        rw("http://erp-backend.corp:8080/login?next=/a"),
        some("http://erp.virtual:8000/login?next=/a")
    );
    assert_eq!(
        rw("HTTP://ERP-BACKEND.CORP:8080"),
        some("http://erp.virtual:8000")
    );
    assert_eq!(
        rw("//erp-backend.corp:8080/x"),
        some("//erp.virtual:8000/x")
    );
    assert_eq!(
        rw("http://erp-backend.corp/x"),
        None,
        "port 80 is another system"
    );
    assert_eq!(rw("http://other.corp:8080/x"), None);
    assert_eq!(rw("/relative"), None);
    assert_eq!(rw("http://user@erp-backend.corp:8080/"), None);

    let b = p.check_http(&get("v6.virtual", "/")).unwrap();
    assert_eq!(&b.host_header()[..], b"[fd00::5]");
    assert_eq!(b.internal_authority(), "[fd00::5]:80");
    assert_eq!(
        b.rewrite_location(b"http://[fd00::5]/x").as_deref(),
        Some(&b"http://v6.virtual/x"[..])
    );
    // The cloud used https (default port 443): the rewritten URL says so.
    let tls = HttpRequest {
        default_port: 443,
        ..get("v6.virtual:80", "/")
    };
    let c = p.check_http(&tls).unwrap();
    assert_eq!(
        c.rewrite_location(b"http://[fd00::5]:80/x").as_deref(),
        Some(&b"https://v6.virtual:80/x"[..])
    );
}

#[test]
fn the_policy_is_shareable_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<SubaccountPolicy>();
    shareable::<Admitted>();
}

#[test]
fn ip_literal_virtual_hosts_match_only_when_mapped_and_in_canonical_form() {
    let mut v4 = http_system("198.18.7.7", 389, vec![]);
    v4.protocol = Protocol::Tcp;
    let mut v6 = http_system("[FD00:0::7]", 389, vec![]);
    v6.protocol = Protocol::Tcp;
    let p = SubaccountPolicy::compile(&[v4, v6]).unwrap();
    assert!(p.check_connect(b"198.18.7.7:389").is_ok());
    assert!(p.check_connect(b"[fd00::7]:389").is_ok());
    assert!(p.check_connect(b"[fd00:0:0::7]:389").is_ok());
    for other in [&b"198.18.7.8:389"[..], b"[fd00::8]:389", b"127.0.0.1:389"] {
        assert_eq!(p.check_connect(other).err(), Some(Denial::NoSuchSystem));
    }
    assert_eq!(
        p.check_connect(b"198.18.7.7:390").err(),
        Some(Denial::NoSuchSystem)
    );
}
