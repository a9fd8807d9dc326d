//! The request-path check and a small compiled whitelist on arbitrary paths. Input: `[knob]`
//! + path bytes. Knob bits 0–2 pick the authority, bit 7 asks for a WebSocket upgrade.
//!
//! Besides "no panic" it checks: an accepted path keeps its bytes and re-checks to the same
//! value; its decoded segments hold no `.`/`..`, no separator, control or NUL, and only the
//! last may be empty; an admitted request forwards exactly the input path, and an
//! independent string oracle agrees that one of the rules covers it on a segment boundary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sallyport::policy::{
    check_path, HostInHeader, HttpRequest, PathMatch, PortSpec, Protocol, ResourceSpec,
    SubaccountPolicy, SystemSpec,
};
use std::sync::OnceLock;

const AUTHORITIES: [&str; 8] = [
    "shop.virtual",
    "SHOP.Virtual:80",
    "shop.virtual.",
    "user@shop.virtual",
    "other.virtual",
    "shop.virtual:81",
    "[::1]:80",
    "",
];

fn policy() -> &'static SubaccountPolicy {
    static POLICY: OnceLock<SubaccountPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let res = |path: &str, matching, websocket| ResourceSpec {
            path: path.into(),
            matching,
            enabled: true,
            websocket,
        };
        let system = SystemSpec {
            virtual_host: "shop.virtual".into(),
            virtual_port: PortSpec::single(80),
            internal_host: "127.0.0.1".into(),
            internal_port: PortSpec::single(8080),
            protocol: Protocol::Http,
            host_in_header: HostInHeader::Virtual,
            enabled: true,
            resources: vec![
                res("/api", PathMatch::Prefix, false),
                res("/public/index.html", PathMatch::Exact, false),
                res("/files/", PathMatch::Prefix, false),
                res("/ws", PathMatch::Prefix, true),
            ],
        };
        SubaccountPolicy::compile(&[system]).expect("fuzz policy compiles")
    })
}

/// The whitelist above, written as plain string rules on the decoded path.
fn oracle(decoded: &str, websocket: bool) -> bool {
    let under = |p: &str| decoded == p || decoded.starts_with(&format!("{p}/"));
    if websocket {
        return under("/ws");
    }
    under("/api")
        || under("/ws")
        || decoded == "/public/index.html"
        || decoded.starts_with("/files/")
}

fuzz_target!(|data: &[u8]| {
    let Some((&knob, path)) = data.split_first() else {
        return;
    };
    let checked = check_path(path);
    if let Ok(p) = &checked {
        assert_eq!(&p.raw()[..], path);
        assert_eq!(check_path(p.raw()).as_ref(), Ok(p), "re-check differs");
        let segs: Vec<&str> = p.segments().collect();
        for (i, s) in segs.iter().enumerate() {
            assert!(*s != "." && *s != "..", "dot segment {s:?}");
            assert!(!s.is_empty() || i + 1 == segs.len(), "empty segment");
            assert!(
                !s.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'\\' || b == b';'),
                "{s:?}"
            );
        }
    }
    let websocket = knob & 0x80 != 0;
    let authority = AUTHORITIES[usize::from(knob & 7)];
    let req = HttpRequest {
        authority: authority.as_bytes(),
        default_port: 80,
        path,
        websocket_upgrade: websocket,
    };
    let decision = policy().check_http(&req);
    if let Ok(admitted) = &decision {
        let fwd = admitted.path().expect("HTTP admission carries its path");
        assert_eq!(&fwd.raw()[..], path, "forwarded path differs from the input");
        assert!(
            oracle(fwd.decoded(), websocket),
            "admitted {:?} (rule {:?})",
            fwd.decoded(),
            admitted.rule()
        );
    } else if let (Ok(p), 0 | 1) = (&checked, knob & 7) {
        // The host is mapped and the path is fine: a refusal must be the whitelist's.
        assert!(!oracle(p.decoded(), websocket) || websocket, "refused {:?}", p.decoded());
    }
});
