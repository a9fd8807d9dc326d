//! The demo's scripted session: each step does one thing a cloud application (or an attacker)
//! does at the front doors, and checks the answer the design promises.

use super::socks::{self, SocksAuth};
use super::{client, Stack, SOCKS_PASSWORD, SOCKS_USER};

/// What a step expects of an HTTP answer: the status, and the line it prints when met.
fn expect_status(
    want: u16,
    r: Result<(u16, Vec<u8>), String>,
    ok: impl FnOnce(&str) -> String,
) -> Result<String, String> {
    let (status, body) = r?;
    let text = String::from_utf8_lossy(&body).trim().to_string();
    if status == want {
        Ok(ok(&text))
    } else {
        Err(format!("expected {want}, got {status}: {text}"))
    }
}

/// The audit line the relay recorded since `before` lines, for a refusal step.
fn audited(stack: &Stack, before: usize, shown: String) -> Result<String, String> {
    match stack.audit.lines().get(before..) {
        // The reason is already in `shown`: name the record by door, tenant and caller.
        Some([.., last]) => Ok(format!(
            "{shown}; audited ({})",
            last.split_once(": ").map_or(last.as_str(), |(who, _)| who)
        )),
        _ => Err(format!(
            "{shown}, but no authentication failure was audited"
        )),
    }
}

/// Runs the scripted session; returns true if every step passed.
///
/// Expects a stack started as `sallyport demo` starts it: credentials required
/// ([`super::StackOptions::trusted`] false) and `erp.virtual` whitelisted to
/// [`super::demo_resources`]. Steps that need credentials send a token of the stack's identity
/// provider.
pub fn script(stack: &Stack) -> bool {
    let proxy = stack.proxy;
    let mut failed = 0;
    let mut step = |n: usize, what: &str, r: Result<String, String>| match r {
        Ok(detail) => println!("  [{n:>2}] {what:<50} ok    {detail}"),
        Err(e) => {
            failed += 1;
            println!("  [{n:>2}] {what:<50} FAIL  {e}");
        }
    };
    let token = match stack.token() {
        Ok(t) => t,
        Err(e) => {
            println!("  cannot mint a token: {e}");
            return false;
        }
    };
    let (auth_name, auth_value) = client::bearer(&token);
    let auth: &[(&str, &str)] = &[(auth_name, auth_value.as_str())];

    step(1, "GET http://erp.virtual/orders?id=7 (Bearer JWT)", {
        let r = client::get(proxy, "http://erp.virtual/orders?id=7", auth);
        expect_status(200, r, |body| format!("200 {body}"))
    });
    step(2, "the same without a token", {
        let before = stack.audit.lines().len();
        let r = client::get(proxy, "http://erp.virtual/orders?id=7", &[]);
        expect_status(407, r, |body| format!("407 {body}"))
            .and_then(|shown| audited(stack, before, shown))
    });
    step(3, "POST 1 MiB to http://erp.virtual/upload", {
        let body = vec![b'x'; 1 << 20];
        client::post_with(proxy, "http://erp.virtual/upload", auth, &body).and_then(
            |(status, resp)| {
                let text = String::from_utf8_lossy(&resp).to_string();
                (status == 200 && text.contains("\"received\":1048576"))
                    .then(|| "200, backend received 1048576 bytes".to_string())
                    .ok_or(format!("status {status}: {text}"))
            },
        )
    });
    step(4, "GET http://erp.virtual/admin/users", {
        let r = client::get(proxy, "http://erp.virtual/admin/users", auth);
        expect_status(403, r, |body| format!("403 {body} (not whitelisted)"))
    });
    step(5, "GET http://erp.virtual/orders/%2e%2e/admin", {
        let r = client::get(proxy, "http://erp.virtual/orders/%2e%2e/admin", auth);
        expect_status(400, r, |body| format!("400 {body}"))
    });
    step(6, "CONNECT ldap.virtual:389, echo over TCP", {
        client::connect_echo_with(proxy, "ldap.virtual:389", auth, b"hello through the tunnel")
            .map(|echo| format!("echo '{}'", String::from_utf8_lossy(&echo)))
    });
    step(7, "SOCKS5 0x02 user/password to ldap.virtual:389", {
        let user = SocksAuth::User {
            name: SOCKS_USER,
            password: SOCKS_PASSWORD,
        };
        socks::echo(stack.socks, user, "ldap.virtual", 389, b"hello over SOCKS5")
            .map(|echo| format!("echo '{}'", String::from_utf8_lossy(&echo)))
    });
    step(8, "SOCKS5 0x80 (SAP, JWT) to ldap.virtual:389", {
        let jwt = SocksAuth::Jwt {
            token: &token,
            location: None,
        };
        socks::echo(stack.socks, jwt, "ldap.virtual", 389, b"hello with a JWT")
            .map(|echo| format!("echo '{}'", String::from_utf8_lossy(&echo)))
    });
    step(9, "SOCKS5 0x02 with a wrong password", {
        let user = SocksAuth::User {
            name: SOCKS_USER,
            password: "not-the-password",
        };
        let before = stack.audit.lines().len();
        let r = match socks::open(
            stack.socks,
            user,
            &crate::proto::socks5::Address::Domain("ldap.virtual".into()),
            389,
        ) {
            Err(socks::SocksClientError::AuthRefused(code)) => Ok(format!(
                "refused: status 01 01, reply {}",
                code.map_or("-".into(), |c| format!("{c:#04x}"))
            )),
            Err(e) => Err(format!("expected an authentication refusal, got: {e}")),
            Ok(_) => Err("a wrong password opened a stream".into()),
        };
        r.and_then(|shown| audited(stack, before, shown))
    });
    step(10, "GET http://unmapped.virtual/ (not mapped)", {
        let r = client::get(proxy, "http://unmapped.virtual/", auth);
        expect_status(403, r, |body| format!("403 {body}"))
    });
    step(11, "GET with a location no connector serves", {
        let r = client::get(
            proxy,
            "http://erp.virtual/orders",
            &[auth[0], ("SAP-Connectivity-SCC-Location_ID", "nowhere")],
        );
        expect_status(503, r, |body| format!("503 {body}"))
    });
    step(12, "GET http://down.virtual/ (backend down)", {
        let r = client::get(proxy, "http://down.virtual/", auth);
        expect_status(502, r, |body| format!("502 {body}"))
    });
    failed == 0
}
