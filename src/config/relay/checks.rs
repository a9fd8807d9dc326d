//! Semantic checks of a relay file, after its schema was read.

use super::{
    check_file, check_name, check_nonzero, check_secs, join, FrontDoor, IdentityProvider, Options,
    Reader, RelaySettings, Seen, Tenant, MAX_CLOCK_SKEW_SECS, MAX_THREADS,
};
use crate::config::source::index;
use crate::config::AuditLevel;

pub(super) fn settings(r: &mut Reader, s: &mut RelaySettings, opts: &Options) {
    if s.ca.as_os_str().is_empty() {
        missing_ca(r);
    } else {
        s.ca = r.resolve(&s.ca);
        check_file(
            r,
            opts.check_files,
            "relay.ca",
            "connector CA certificate",
            &s.ca,
        );
    }
    s.cert = r.resolve(&s.cert);
    check_file(
        r,
        opts.check_files,
        "relay.cert",
        "relay certificate",
        &s.cert,
    );
    s.key = r.resolve(&s.key);
    check_file(
        r,
        opts.check_files,
        "relay.key",
        "relay private key",
        &s.key,
    );
    if s.audit == AuditLevel::Off {
        r.warn(
            "relay.audit",
            "audit is off: authentication failures leave no record",
        );
    }
    if let Some(d) = s.audit_dir.as_mut() {
        *d = r.resolve(d);
    }
    if s.threads > MAX_THREADS {
        r.invalid(
            "relay.threads",
            format!(
                "threads is {}; at most {MAX_THREADS} (0 = one per core)",
                s.threads
            ),
        );
    }
    let l = &s.limits;
    let sizes = [
        ("request_line_bytes", l.request_line_bytes),
        ("header_bytes", l.header_bytes),
        ("jwt_max_bytes", l.jwt_max_bytes),
    ];
    for (name, v) in sizes {
        check_nonzero(r, &format!("relay.limits.{name}"), v as u64, name);
    }
    let times = [
        ("header_timeout_secs", l.header_timeout_secs),
        ("response_timeout_secs", l.response_timeout_secs),
        ("idle_timeout_secs", l.idle_timeout_secs),
        ("handshake_timeout_secs", l.handshake_timeout_secs),
        (
            "socks_handshake_timeout_secs",
            l.socks_handshake_timeout_secs,
        ),
        ("keepalive_secs", l.keepalive_secs),
    ];
    for (name, v) in times {
        check_secs(r, &format!("relay.limits.{name}"), v, name);
    }
    if l.header_bytes < l.request_line_bytes {
        r.invalid(
            "relay.limits.header_bytes",
            format!(
                "header_bytes ({}) is smaller than request_line_bytes ({}); the head includes \
                 the request line",
                l.header_bytes, l.request_line_bytes
            ),
        );
    }
    let mut seen = Seen::new();
    let doors = [
        ("relay.tunnel_listen", Some(s.tunnel_listen)),
        (
            "relay.http_proxy.listen",
            s.http_proxy.as_ref().map(|d| d.listen),
        ),
        ("relay.socks5.listen", s.socks5.as_ref().map(|d| d.listen)),
    ];
    for (key, addr) in doors {
        let Some(addr) = addr else { continue };
        if addr.0.port() == 0 {
            r.invalid(key, format!("`{addr}` has port 0; give a fixed port"));
        }
        if let Some(first) = seen.get(&addr.to_string()) {
            r.invalid(key, format!("`{addr}` is already used by {first}"));
        } else {
            seen.insert(addr.to_string(), key.to_owned());
        }
    }
}

pub(super) fn missing_ca(r: &mut Reader) {
    r.invalid(
        "relay.ca",
        "missing: the relay always verifies connector client certificates and this cannot be \
         switched off; set `ca` to the CA that signs connector certificates (made by \
         `sallyport pki`)",
    );
}

pub(super) fn identity_providers(
    r: &mut Reader,
    idps: &mut [(String, IdentityProvider)],
    opts: &Options,
) {
    let mut seen = Seen::new();
    for (path, p) in idps.iter_mut() {
        if check_name(r, &join(path, "name"), "identity provider", &p.name) {
            duplicate(r, &mut seen, &p.name, path, "identity provider");
        }
        for (field, v) in [
            ("issuer", &p.issuer),
            ("audience", &p.audience),
            ("tenant_claim", &p.tenant_claim),
        ] {
            if v.trim().is_empty() {
                r.invalid(
                    &join(path, field),
                    format!("{field} is empty; tokens would be checked against nothing"),
                );
            }
        }
        if p.algorithms.is_empty() {
            r.invalid(
                &join(path, "algorithms"),
                "algorithms is empty; list the signature algorithms this provider uses (such as [\"ES256\"])",
            );
        }
        if p.clock_skew_secs > MAX_CLOCK_SKEW_SECS {
            r.invalid(
                &join(path, "clock_skew_secs"),
                format!(
                    "clock_skew_secs is {}; at most {MAX_CLOCK_SKEW_SECS} (expired tokens would stay valid)",
                    p.clock_skew_secs
                ),
            );
        }
        if p.jwks.is_none() && p.keys.is_empty() {
            r.invalid(
                path,
                format!(
                    "identity provider `{}` has no keys: set `jwks` or add an [[identity_provider.key]]",
                    p.name
                ),
            );
        }
        if let Some(j) = p.jwks.as_mut() {
            *j = r.resolve(j);
            check_file(r, opts.check_files, &join(path, "jwks"), "JWKS file", j);
        }
        let several = p.keys.len() > 1 || p.jwks.is_some();
        let mut kids = Seen::new();
        let kpath = join(path, "key");
        for (i, k) in p.keys.iter_mut().enumerate() {
            let kp = index(&kpath, i);
            k.file = r.resolve(&k.file);
            check_file(
                r,
                opts.check_files,
                &join(&kp, "file"),
                "public key",
                &k.file,
            );
            match &k.kid {
                None if several => r.invalid(
                    &kp,
                    "kid is missing; it is required when the provider has more than one key",
                ),
                None => {}
                Some(kid) if kid.is_empty() => r.invalid(&join(&kp, "kid"), "kid is empty"),
                Some(kid) => duplicate(r, &mut kids, kid, &join(&kp, "kid"), "kid"),
            }
        }
    }
}

fn duplicate(r: &mut Reader, seen: &mut Seen, name: &str, path: &str, what: &str) {
    if let Some(first) = seen.get(name) {
        r.invalid(
            path,
            format!("{what} `{name}` is already defined at {first}"),
        );
    } else {
        seen.insert(name.to_owned(), path.to_owned());
    }
}

pub(super) fn tenants(r: &mut Reader, ts: &[(String, Tenant)]) {
    let mut names = Seen::new();
    let mut users = Seen::new();
    let mut trusted: Option<&str> = None;
    for (path, t) in ts {
        if check_name(r, &join(path, "name"), "tenant", &t.name) {
            duplicate(r, &mut names, &t.name, path, "tenant");
        }
        if t.trusted {
            let key = join(path, "trusted");
            match trusted {
                Some(first) => r.invalid(
                    &key,
                    format!(
                        "a second trusted tenant; {first} already is: callers without \
                         credentials can be only one tenant"
                    ),
                ),
                None => {
                    trusted = Some(path);
                    r.warn(
                        &key,
                        format!(
                            "tenant `{}` is trusted: callers that present no credentials on \
                             the front doors act as this tenant",
                            t.name
                        ),
                    );
                }
            }
        }
        let dl_ok = check_name(
            r,
            &join(path, "default_location"),
            "location",
            &t.default_location,
        );
        let mut locs = Seen::new();
        for (i, l) in t.locations.iter().enumerate() {
            let lp = index(&join(path, "locations"), i);
            if check_name(r, &lp, "location", l) {
                duplicate(r, &mut locs, l, &lp, "location");
            }
        }
        if dl_ok && !t.locations.is_empty() && !t.locations.contains(&t.default_location) {
            r.invalid(
                &join(path, "default_location"),
                format!(
                    "default_location `{}` is not in locations [{}]",
                    t.default_location,
                    t.locations.join(", ")
                ),
            );
        }
        let upath = join(path, "user");
        for (i, u) in t.users.iter().enumerate() {
            let up = index(&upath, i);
            if u.name.is_empty() || u.name.len() > 255 {
                r.invalid(
                    &join(&up, "name"),
                    format!("user name must be 1 to 255 bytes (is {})", u.name.len()),
                );
            } else {
                // A SOCKS5 username alone selects the tenant: it must be unique across tenants.
                duplicate(r, &mut users, &u.name, &up, "user");
            }
            if let Err(e) = super::check_password_hash(&u.password_hash) {
                r.invalid(&join(&up, "password_hash"), e);
            }
        }
    }
}

pub(super) fn front_doors(
    r: &mut Reader,
    s: &RelaySettings,
    idps: &[(String, IdentityProvider)],
    ts: &[(String, Tenant)],
) {
    let doors: [(&str, &Option<FrontDoor>); 2] = [
        ("relay.http_proxy", &s.http_proxy),
        ("relay.socks5", &s.socks5),
    ];
    let any_user = ts.iter().any(|(_, t)| !t.users.is_empty());
    let any_trusted = ts.iter().any(|(_, t)| t.trusted);
    for (key, door) in doors {
        if door.is_none() {
            continue;
        }
        if ts.is_empty() {
            r.invalid(
                key,
                format!("the front door [{key}] is configured but there is no [[tenant]] to serve"),
            );
        } else if idps.is_empty() && !any_user && !any_trusted {
            r.invalid(
                key,
                format!(
                    "nobody can authenticate on the front door [{key}]: add an \
                     [[identity_provider]] or a [[tenant.user]], or declare a tenant \
                     `trusted = true` explicitly; the relay never runs an open door implicitly"
                ),
            );
        }
    }
    if s.http_proxy.is_none() && s.socks5.is_none() {
        r.warn(
            "relay",
            "no front door ([relay.http_proxy] or [relay.socks5]): connectors can register but \
             no cloud application can reach them",
        );
    }
}

/// Checks the syntax of an argon2id PHC string (`$argon2id$v=19$m=M,t=T,p=P$SALT$HASH`); it
/// does not verify a password.
pub fn check_password_hash(s: &str) -> Result<(), String> {
    const FORM: &str = "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>";
    if !s.starts_with('$') {
        return Err(format!(
            "is not a PHC hash string; plain passwords are refused: store an argon2id hash \
             ({FORM})"
        ));
    }
    let parts: Vec<&str> = s.split('$').collect();
    let alg = parts.get(1).copied().unwrap_or_default();
    if alg != "argon2id" {
        return Err(format!(
            "hash algorithm `{alg}` is not accepted; use argon2id ({FORM})"
        ));
    }
    let [_, _, version, params, salt, hash] = parts[..] else {
        return Err(format!(
            "has {} `$`-separated fields; expected {FORM}",
            parts.len().saturating_sub(1)
        ));
    };
    if version != "v=19" {
        return Err(format!("version `{version}` is not v=19 ({FORM})"));
    }
    let mut m = None;
    let mut t = None;
    let mut p = None;
    for kv in params.split(',') {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("parameter `{kv}` is not name=value ({FORM})"))?;
        let n: u32 = v
            .parse()
            .map_err(|_| format!("parameter `{kv}` is not a number"))?;
        let slot = match k {
            "m" => &mut m,
            "t" => &mut t,
            "p" => &mut p,
            _ => {
                return Err(format!(
                    "unknown argon2 parameter `{k}` (expected m, t and p)"
                ))
            }
        };
        if slot.replace(n).is_some() {
            return Err(format!("argon2 parameter `{k}` appears twice"));
        }
    }
    let (Some(m), Some(t), Some(p)) = (m, t, p) else {
        return Err(format!("argon2 parameters must name m, t and p ({FORM})"));
    };
    if t == 0 || p == 0 || m < 8 * p {
        return Err(format!(
            "argon2 parameters m={m},t={t},p={p} are out of range (t ≥ 1, p ≥ 1, m ≥ 8·p)"
        ));
    }
    let b64 = |x: &str| {
        x.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    };
    if salt.len() < 11 || !b64(salt) {
        return Err(
            "salt must be at least 8 bytes in unpadded base64 (11 characters or more)".to_owned(),
        );
    }
    if hash.len() < 22 || !b64(hash) {
        return Err(
            "hash must be at least 16 bytes in unpadded base64 (22 characters or more)".to_owned(),
        );
    }
    Ok(())
}
