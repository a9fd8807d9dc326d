//! Through the HTTP proxy door, and both doors with real curl.

use super::stack::*;
use sallyport::demo::client;
use serde_json::json;
use std::io::{Read, Write};

// ----------------------------------------------------------------------------- curl

fn curl(args: &[&str]) -> Option<(bool, String, String)> {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .ok()?;
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn curl_socks5_hostname_with_user_and_password() {
    let d = doors();
    let proxy = format!("alice:{PASSWORD}@{}", d.socks);
    let Some((ok, body, err)) =
        curl(&["--socks5-hostname", &proxy, "http://web.virtual/via-socks"])
    else {
        eprintln!("curl not installed: skipped (make test-deps installs it)");
        return;
    };
    assert!(ok, "{err}");
    assert!(body.contains("\"path\":\"/via-socks\""), "{body}");
    let bad = format!("alice:nope@{}", d.socks);
    let (ok, _, _) = curl(&["--socks5-hostname", &bad, "http://web.virtual/"]).unwrap();
    assert!(!ok, "wrong password refused");
}

#[test]
fn curl_http_proxy_with_bearer_token() {
    let d = doors();
    let proxy = format!("http://{}", d.proxy);
    let header = format!("Proxy-Authorization: Bearer {}", token("acme"));
    let Some((ok, body, err)) = curl(&[
        "--proxy",
        &proxy,
        "--proxy-header",
        &header,
        "http://erp.virtual/via-proxy",
    ]) else {
        eprintln!("curl not installed: skipped (make test-deps installs it)");
        return;
    };
    assert!(ok, "{err}");
    assert!(body.contains("\"path\":\"/via-proxy\""), "{body}");
    // No header: 407 with the challenge.
    let (_, head, _) = curl(&["-i", "--proxy", &proxy, "http://erp.virtual/"]).unwrap();
    assert!(head.starts_with("HTTP/1.1 407"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("proxy-authenticate: bearer realm=\"sallyport\""),
        "{head}"
    );
}

#[test]
fn http_proxy_407_cases_are_audited() {
    let d = doors();
    let expired = token_with(&d.signer, |c| {
        c.insert("exp".into(), json!(now() - 3600));
    });
    let good = token("acme");
    let cases = [
        ("missing", String::new(), "required"),
        (
            "basic",
            "proxy-authorization: Basic YWxpY2U6d29uZGVybGFuZA==\r\n".to_string(),
            "Bearer",
        ),
        (
            "expired",
            format!("proxy-authorization: Bearer {expired}\r\n"),
            "expired",
        ),
        (
            "twice",
            format!("proxy-authorization: Bearer {good}\r\nproxy-authorization: Bearer {good}\r\n"),
            "more than once",
        ),
        (
            "empty",
            "proxy-authorization: Bearer \r\n".to_string(),
            "Bearer",
        ),
    ];
    for (what, header, says) in cases {
        let mut s = connect(d.proxy);
        let head = format!("GET http://erp.virtual/ HTTP/1.1\r\nhost: erp.virtual\r\n{header}\r\n");
        s.write_all(head.as_bytes()).unwrap();
        let all = String::from_utf8_lossy(&read_to_close(&mut s)).into_owned();
        assert!(all.starts_with("HTTP/1.1 407 "), "{what}: {all}");
        assert!(
            all.contains("proxy-authenticate: Bearer realm=\"sallyport\""),
            "{what}: {all}"
        );
        assert!(all.contains(says), "{what}: {all}");
        let reasons = d.audit.reasons_for(s.local_addr().unwrap());
        assert_eq!(reasons.len(), 1, "{what}: {reasons:?}");
    }
    // The trusted relay needs no header (and has no connector: 503, not 407).
    let mut s = connect(d.trusted_proxy);
    let (status, _) = client::exchange(
        &mut s,
        "GET http://erp.virtual/ HTTP/1.1\r\nhost: erp.virtual\r\n\r\n",
        &[],
    )
    .unwrap();
    assert_eq!(status, 503);
}

#[test]
fn http_proxy_location_and_credential_headers() {
    let d = doors();
    let t = token("acme");
    let req = |host: &str, extra: &str| {
        let mut s = connect(d.proxy);
        let head = format!(
            "GET http://{host}/x HTTP/1.1\r\nhost: {host}\r\nproxy-authorization: Bearer {t}\r\n{extra}connection: close\r\n\r\n"
        );
        client::exchange(&mut s, &head, &[]).unwrap().0
    };
    // CONNECT-only system at rome, reached as CONNECT through the location header.
    let mut s = connect(d.proxy);
    let head = format!(
        "CONNECT rome.virtual:389 HTTP/1.1\r\nhost: rome.virtual:389\r\nproxy-authorization: Bearer {t}\r\nSAP-Connectivity-SCC-Location_ID: rome\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        got.push(b[0]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    echo_through(&mut s, b"rome via http");
    assert_eq!(req("rec.virtual", "sallyport-location: paris\r\n"), 503);
    // A location the tenant does not have: the same 503, and an audit record.
    let before = d.audit.0.lock().unwrap().len();
    assert_eq!(req("rec.virtual", "sallyport-location: nowhere\r\n"), 503);
    let audit = d.audit.0.lock().unwrap();
    assert!(
        audit[before..]
            .iter()
            .any(|r| r.1.as_deref() == Some("acme") && r.3.contains("nowhere")),
        "{:?}",
        &audit[before..]
    );
    drop(audit);

    // Credentials: Proxy-Authorization stays at the relay, the SAP principal headers stop at
    // the connector; the backend sees neither.
    let n = d.recorder.lock().unwrap().len();
    let status = req(
        "rec.virtual",
        "SAP-Connectivity-Authentication: Bearer user-token\r\n\
         SAP-Connectivity-Technical-Authentication: Bearer tech-token\r\nx-kept: 1\r\n",
    );
    assert_eq!(status, 200);
    let heads = d.recorder.lock().unwrap();
    let head = heads[n..].join("").to_ascii_lowercase();
    assert!(head.contains("x-kept: 1"), "{head}");
    for gone in [
        "proxy-authorization",
        "sap-connectivity-authentication",
        "sap-connectivity-technical-authentication",
        "user-token",
    ] {
        assert!(!head.contains(gone), "{gone} reached the backend: {head}");
    }
}
