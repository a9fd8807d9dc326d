//! Request targets (RFC 9112 §3.2) and authorities (`host[:port]`, RFC 3986 §3.2).
//!
//! The relay routes on the authority, so it is validated to a deliberately small language:
//! a DNS-style name (letters, digits, `-`, `_`, dots between non-empty labels), an IPv4
//! address, or a bracketed IPv6 literal, with an optional port 1..=65535 written without
//! leading zeros. Userinfo, empty hosts, zone identifiers and percent-encoding are rejected.

use super::{Http1Error, Method};
use bytes::{BufMut, Bytes, BytesMut};

/// The scheme of an absolute-form target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http` (any case): default port 80.
    Http,
    /// `https` (any case): default port 443.
    Https,
}

impl Scheme {
    /// The port implied when the authority has none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// The lowercase scheme name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A validated request target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `http://host[:port]/path?query`: what a forward proxy receives.
    Absolute {
        /// `http` or `https`.
        scheme: Scheme,
        /// `host[:port]` as received (validated by [`parse_authority`], case kept).
        authority: Bytes,
        /// The path and query as received; `/` if the path was empty (a query alone gets `/`
        /// in front, as RFC 9112 §3.2.1 prescribes for origin-form).
        path_and_query: Bytes,
    },
    /// `host:port` of a CONNECT request (the port is required).
    Authority(Bytes),
    /// `/path?query`, as sent to an origin server. A forward proxy should reject it.
    Origin(Bytes),
    /// `*` (OPTIONS only).
    Asterisk,
}

/// An authority split into host and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostPort<'a> {
    /// The host: a name or IPv4 address as written, or an IPv6 address *without* its
    /// brackets (`::1` for `[::1]:80`), ready for address parsing or name resolution.
    pub host: &'a str,
    /// The port, if the authority has one.
    pub port: Option<u16>,
    /// True if the host was a bracketed IPv6 literal (put the brackets back when writing it
    /// into an authority).
    pub ipv6: bool,
}

impl Target {
    /// The authority of an absolute-form or CONNECT target.
    pub fn authority(&self) -> Option<&Bytes> {
        match self {
            Target::Absolute { authority, .. } | Target::Authority(authority) => Some(authority),
            Target::Origin(_) | Target::Asterisk => None,
        }
    }

    /// The scheme of an absolute-form target.
    pub fn scheme(&self) -> Option<Scheme> {
        match self {
            Target::Absolute { scheme, .. } => Some(*scheme),
            _ => None,
        }
    }

    /// Host and explicit port of the authority, if there is one.
    pub fn host_port(&self) -> Option<HostPort<'_>> {
        // Parsed targets were validated; a hand-built invalid one simply has no host.
        self.authority().and_then(|a| parse_authority(a).ok())
    }

    /// The host of the authority (IPv6 without brackets).
    pub fn host(&self) -> Option<&str> {
        self.host_port().map(|hp| hp.host)
    }

    /// The port to connect to: the explicit one, else the scheme's default. Always the
    /// explicit port for CONNECT; `None` for origin-form and `*`.
    pub fn port(&self) -> Option<u16> {
        let hp = self.host_port()?;
        hp.port.or_else(|| self.scheme().map(Scheme::default_port))
    }

    /// The path and query to send in origin-form: `path_and_query` of an absolute target, the
    /// target itself in origin-form, `*` for asterisk-form, `None` for CONNECT.
    pub fn path_and_query(&self) -> Option<&[u8]> {
        match self {
            Target::Absolute { path_and_query, .. } => Some(path_and_query),
            Target::Origin(p) => Some(p),
            Target::Asterisk => Some(b"*"),
            Target::Authority(_) => None,
        }
    }
}

/// Validates an authority `host[:port]` and splits it.
///
/// Rejects: empty input or host, userinfo (`@`), characters outside letters, digits, `-`,
/// `.`, `_` in a name, empty labels (`a..b`, `.a`, and a trailing dot — it would let `a.` and
/// `a` name the same host through different strings), names over 253 bytes, malformed or
/// zoned IPv6 literals, and ports that are empty, not decimal, have a leading zero, or are
/// outside 1..=65535. Usable on HTTP/2 `:authority` values too.
pub fn parse_authority(authority: &[u8]) -> Result<HostPort<'_>, Http1Error> {
    if authority.is_empty() {
        return Err(Http1Error::InvalidAuthority("empty"));
    }
    if authority.contains(&b'@') {
        return Err(Http1Error::UserinfoInAuthority);
    }
    let (host, rest, ipv6) = if let Some(after) = authority.strip_prefix(b"[") {
        let close = after
            .iter()
            .position(|&b| b == b']')
            .ok_or(Http1Error::InvalidAuthority("unclosed IPv6 literal"))?;
        let inner = &after[..close];
        let ok_chars = inner
            .iter()
            .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        let text = std::str::from_utf8(inner).ok().filter(|_| ok_chars);
        let valid = text.is_some_and(|t| t.parse::<core::net::Ipv6Addr>().is_ok());
        match (text, valid) {
            (Some(t), true) => (t, &after[close + 1..], true),
            _ => return Err(Http1Error::InvalidAuthority("invalid IPv6 literal")),
        }
    } else {
        let colon = authority.iter().position(|&b| b == b':');
        let (name, rest) = authority.split_at(colon.unwrap_or(authority.len()));
        (check_name(name)?, rest, false)
    };
    let port = match rest {
        [] => None,
        [b':', digits @ ..] => Some(parse_port(digits)?),
        _ => return Err(Http1Error::InvalidAuthority("junk after IPv6 literal")),
    };
    Ok(HostPort { host, port, ipv6 })
}

fn check_name(name: &[u8]) -> Result<&str, Http1Error> {
    if name.is_empty() {
        return Err(Http1Error::InvalidAuthority("empty host"));
    }
    if name.len() > 253 {
        return Err(Http1Error::InvalidAuthority(
            "host name longer than 253 bytes",
        ));
    }
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    if !name.iter().all(|&b| ok(b)) {
        return Err(Http1Error::InvalidAuthority("invalid character in host"));
    }
    if name.split(|&b| b == b'.').any(<[u8]>::is_empty) {
        return Err(Http1Error::InvalidAuthority("empty label in host"));
    }
    std::str::from_utf8(name).map_err(|_| Http1Error::InvalidAuthority("invalid character in host"))
}

fn parse_port(digits: &[u8]) -> Result<u16, Http1Error> {
    let bad = Http1Error::InvalidAuthority("invalid port");
    if digits.is_empty() || digits.len() > 5 || digits[0] == b'0' {
        return Err(bad);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let n = digits
        .iter()
        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    u16::try_from(n).map_err(|_| bad)
}

/// Classifies and validates the target of a request with `method`.
pub(super) fn parse_target(raw: Bytes, method: &Method) -> Result<Target, Http1Error> {
    // The request line was split on SP, so only other controls and non-ASCII can hide here.
    if !raw.iter().all(|&b| (b'!'..=b'~').contains(&b)) {
        return Err(Http1Error::InvalidTarget("control or non-ASCII byte"));
    }
    if raw.contains(&b'#') {
        return Err(Http1Error::FragmentInTarget);
    }
    if *method == Method::Connect {
        if raw.contains(&b'/') || raw.contains(&b'?') {
            return Err(Http1Error::InvalidTarget(
                "CONNECT target must be host:port",
            ));
        }
        if parse_authority(&raw)?.port.is_none() {
            return Err(Http1Error::InvalidTarget("CONNECT target needs a port"));
        }
        return Ok(Target::Authority(raw));
    }
    if &raw[..] == b"*" {
        if *method != Method::Options {
            return Err(Http1Error::InvalidTarget(
                "`*` is only allowed with OPTIONS",
            ));
        }
        return Ok(Target::Asterisk);
    }
    if raw.starts_with(b"/") {
        return Ok(Target::Origin(raw));
    }
    parse_absolute(raw)
}

fn parse_absolute(raw: Bytes) -> Result<Target, Http1Error> {
    let Some(colon) = raw.iter().position(|&b| b == b':') else {
        return Err(Http1Error::InvalidTarget(
            "not origin-form or absolute-form",
        ));
    };
    let scheme_name = &raw[..colon];
    let scheme = if scheme_name.eq_ignore_ascii_case(b"http") {
        Scheme::Http
    } else if scheme_name.eq_ignore_ascii_case(b"https") {
        Scheme::Https
    } else if is_scheme(scheme_name) {
        return Err(Http1Error::UnsupportedScheme);
    } else {
        return Err(Http1Error::InvalidTarget(
            "not origin-form or absolute-form",
        ));
    };
    let Some(after) = raw[colon + 1..].strip_prefix(b"//") else {
        return Err(Http1Error::InvalidTarget(
            "absolute target without //authority",
        ));
    };
    let auth_len = after
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(after.len());
    let (authority, rest) = after.split_at(auth_len);
    parse_authority(authority)?;
    let path_and_query = match rest.first() {
        None => Bytes::from_static(b"/"),
        Some(b'/') => raw.slice_ref(rest),
        _ => {
            let mut p = BytesMut::with_capacity(rest.len() + 1);
            p.put_u8(b'/');
            p.put_slice(rest);
            p.freeze()
        }
    };
    Ok(Target::Absolute {
        scheme,
        authority: raw.slice_ref(authority),
        path_and_query,
    })
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1).
fn is_scheme(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_alphabetic)
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Checks that a `Host` field value names the same host and port as the target.
///
/// Hosts compare case-insensitively. For an absolute target a missing port means the
/// scheme's default on either side (`Host: a` matches `http://a:80/`). For CONNECT, a `Host`
/// without a port is accepted (some clients omit it); with one, it must equal the target's.
/// For origin-form and `*` the value only has to be a valid authority.
pub(super) fn check_host(host_value: &[u8], target: &Target) -> Result<(), Http1Error> {
    let host = parse_authority(host_value)?;
    let Some(want) = target.host_port() else {
        return Ok(());
    };
    if !host.host.eq_ignore_ascii_case(want.host) || host.ipv6 != want.ipv6 {
        return Err(Http1Error::HostMismatch);
    }
    let ports_match = match target.scheme() {
        Some(s) => host.port.unwrap_or(s.default_port()) == want.port.unwrap_or(s.default_port()),
        None => host.port.is_none() || host.port == want.port,
    };
    if !ports_match {
        return Err(Http1Error::HostMismatch);
    }
    Ok(())
}
