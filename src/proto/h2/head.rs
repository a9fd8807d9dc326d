//! Request and response heads, and the HTTP/2 message rules (RFC 9113 §8) they must follow.
//!
//! A received head that breaks a rule is *malformed*: a stream error PROTOCOL_ERROR, never
//! passed to the application. The rules matter beyond the RFC because the relay translates to
//! and from HTTP/1.1: a CR or LF smuggled in a value, a second `content-length`, a
//! connection-specific header or an `:authority` with userinfo are how request smuggling and
//! routing confusion start (see `threats.md`).

use crate::proto::hpack::Field;
use bytes::Bytes;

/// A request head: pseudo-header fields split out, regular fields in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHead {
    /// `:method`.
    pub method: Bytes,
    /// `:scheme` (absent for CONNECT).
    pub scheme: Option<Bytes>,
    /// `:authority`.
    pub authority: Option<Bytes>,
    /// `:path` (absent for CONNECT).
    pub path: Option<Bytes>,
    /// `:protocol` (extended CONNECT, RFC 8441).
    pub protocol: Option<Bytes>,
    /// Regular fields, names lowercase.
    pub fields: Vec<Field>,
}

/// A response head.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseHead {
    /// `:status`, 100..=999.
    pub status: u16,
    /// Regular fields, names lowercase.
    pub fields: Vec<Field>,
}

/// Builds a regular field.
pub fn field(name: &'static str, value: impl Into<Bytes>) -> Field {
    Field {
        name: Bytes::from_static(name.as_bytes()),
        value: value.into(),
        sensitive: false,
    }
}

impl RequestHead {
    /// A request with a path (`GET`, `POST`, ...).
    pub fn new(method: &'static str, scheme: &'static str, authority: &str, path: &str) -> Self {
        RequestHead {
            method: Bytes::from_static(method.as_bytes()),
            scheme: Some(Bytes::from_static(scheme.as_bytes())),
            authority: Some(Bytes::copy_from_slice(authority.as_bytes())),
            path: Some(Bytes::copy_from_slice(path.as_bytes())),
            protocol: None,
            fields: Vec::new(),
        }
    }

    /// A CONNECT request for a TCP tunnel to `authority` (RFC 9113 §8.5).
    pub fn connect(authority: &str) -> Self {
        RequestHead {
            method: Bytes::from_static(b"CONNECT"),
            authority: Some(Bytes::copy_from_slice(authority.as_bytes())),
            ..Default::default()
        }
    }

    /// True for a plain CONNECT (not extended CONNECT): the stream carries raw bytes.
    pub fn is_connect(&self) -> bool {
        &self.method[..] == b"CONNECT" && self.protocol.is_none()
    }

    /// The first value of a regular field.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        get(&self.fields, name)
    }

    /// `content-length`, if present (validated when received).
    pub fn content_length(&self) -> Option<u64> {
        self.get("content-length").and_then(|v| parse_u64(v))
    }

    pub(crate) fn pseudo(&self) -> impl Iterator<Item = (&'static [u8], &Bytes)> {
        [
            (&b":method"[..], Some(&self.method)),
            (b":scheme", self.scheme.as_ref()),
            (b":authority", self.authority.as_ref()),
            (b":path", self.path.as_ref()),
            (b":protocol", self.protocol.as_ref()),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
    }

    /// Builds a request from a decoded header list, enforcing RFC 9113 §8.3.1 and §8.5.
    pub(crate) fn from_fields(list: Vec<Field>, connect_protocol: bool) -> Result<Self, Malformed> {
        let mut head = RequestHead::default();
        let mut method = None;
        let fields = split_pseudo(list, |name, value| {
            let slot = match name {
                b":method" => &mut method,
                b":scheme" => &mut head.scheme,
                b":authority" => &mut head.authority,
                b":path" => &mut head.path,
                b":protocol" => &mut head.protocol,
                _ => return Err("unknown or response pseudo-header in a request"),
            };
            if slot.replace(value).is_some() {
                return Err("duplicate pseudo-header");
            }
            Ok(())
        })?;
        head.method = method.ok_or("request without :method")?;
        head.fields = fields;
        if head.method.is_empty() || !head.method.iter().all(|&b| is_tchar(b)) {
            return Err("invalid :method");
        }
        if head.protocol.is_some() && (!connect_protocol || &head.method[..] != b"CONNECT") {
            return Err(":protocol without extended CONNECT");
        }
        if head.is_connect() {
            if head.scheme.is_some() || head.path.is_some() {
                return Err("CONNECT with :scheme or :path");
            }
            if head.authority.is_none() {
                return Err("CONNECT without :authority");
            }
        } else {
            if head.scheme.as_ref().is_none_or(|s| s.is_empty()) {
                return Err("request without :scheme");
            }
            match &head.path {
                None => return Err("request without :path"),
                Some(p) if p.is_empty() => return Err("empty :path"),
                Some(p) if p[0] != b'/' && &p[..] != b"*" => {
                    return Err(":path not origin-form or *")
                }
                _ => {}
            }
        }
        if let Some(a) = &head.authority {
            if a.is_empty() || a.iter().any(|&b| matches!(b, b'@' | b'/' | b' ' | b'\\')) {
                return Err(":authority with userinfo, path or blanks");
            }
        }
        let mut hosts = head.fields.iter().filter(|f| &f.name[..] == b"host");
        if let Some(host) = hosts.next() {
            if hosts.next().is_some() {
                return Err("more than one host header");
            }
            match &head.authority {
                Some(a) if !a.eq_ignore_ascii_case(&host.value) => {
                    return Err("host differs from :authority")
                }
                _ => {}
            }
        } else if head.authority.is_none() {
            return Err("request without :authority or host");
        }
        check_content_length(&head.fields)?;
        Ok(head)
    }
}

impl ResponseHead {
    /// A response with no fields.
    pub fn new(status: u16) -> Self {
        ResponseHead {
            status,
            fields: Vec::new(),
        }
    }

    /// The first value of a regular field.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        get(&self.fields, name)
    }

    /// `content-length`, if present.
    pub fn content_length(&self) -> Option<u64> {
        self.get("content-length").and_then(|v| parse_u64(v))
    }

    /// 1xx: an interim response, a final one follows.
    pub fn is_informational(&self) -> bool {
        (100..200).contains(&self.status)
    }

    /// Builds a response from a decoded header list (RFC 9113 §8.3.2).
    pub(crate) fn from_fields(list: Vec<Field>) -> Result<Self, Malformed> {
        let mut status = None;
        let fields = split_pseudo(list, |name, value| {
            if name != b":status" {
                return Err("unknown or request pseudo-header in a response");
            }
            if status.replace(value).is_some() {
                return Err("duplicate :status");
            }
            Ok(())
        })?;
        let status = status.ok_or("response without :status")?;
        let code = match &status[..] {
            [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
            }
            _ => return Err(":status is not three digits"),
        };
        if code == 101 {
            return Err("101 Switching Protocols is not allowed in HTTP/2");
        }
        check_content_length(&fields)?;
        Ok(ResponseHead {
            status: code,
            fields,
        })
    }
}

/// Why a received head is malformed.
pub(crate) type Malformed = &'static str;

/// Validates trailers: regular fields only.
pub(crate) fn trailers_from_fields(list: Vec<Field>) -> Result<Vec<Field>, Malformed> {
    split_pseudo(list, |_, _| Err("pseudo-header in trailers"))
}

/// Validates every field, hands pseudo-header fields to `pseudo` and returns the rest.
/// Pseudo-header fields must all come first (§8.3).
fn split_pseudo(
    list: Vec<Field>,
    mut pseudo: impl FnMut(&[u8], Bytes) -> Result<(), Malformed>,
) -> Result<Vec<Field>, Malformed> {
    let mut regular = Vec::with_capacity(list.len());
    for f in list {
        check_value(&f.value)?;
        if f.name.first() == Some(&b':') {
            if !regular.is_empty() {
                return Err("pseudo-header after a regular field");
            }
            pseudo(&f.name, f.value)?;
        } else {
            check_regular_name(&f.name, &f.value)?;
            regular.push(f);
        }
    }
    Ok(regular)
}

fn check_regular_name(name: &[u8], value: &[u8]) -> Result<(), Malformed> {
    if name.is_empty() {
        return Err("empty field name");
    }
    if !name.iter().all(|&b| is_tchar(b) && !b.is_ascii_uppercase()) {
        return Err("field name with upper-case or non-token characters");
    }
    match name {
        b"connection" | b"proxy-connection" | b"keep-alive" | b"transfer-encoding" | b"upgrade" => {
            Err("connection-specific header field")
        }
        b"te" if value != b"trailers" => Err("te other than trailers"),
        _ => Ok(()),
    }
}

/// §8.2.1: no NUL, CR or LF anywhere; no leading or trailing whitespace.
fn check_value(value: &[u8]) -> Result<(), Malformed> {
    if value.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n')) {
        return Err("NUL, CR or LF in a field value");
    }
    if matches!(value.first(), Some(b' ' | b'\t')) || matches!(value.last(), Some(b' ' | b'\t')) {
        return Err("field value with leading or trailing whitespace");
    }
    Ok(())
}

/// One content-length at most, digits only.
fn check_content_length(fields: &[Field]) -> Result<(), Malformed> {
    let mut seen = false;
    for f in fields.iter().filter(|f| &f.name[..] == b"content-length") {
        if seen {
            return Err("more than one content-length");
        }
        seen = true;
        if parse_u64(&f.value).is_none() {
            return Err("content-length is not a number");
        }
    }
    Ok(())
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn get<'a>(fields: &'a [Field], name: &str) -> Option<&'a Bytes> {
    fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
        .map(|f| &f.value)
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Checks a head the application wants to send, with the same rules as a received one, so
/// that we never emit what we would reject.
pub(crate) fn check_outgoing_fields(fields: &[Field]) -> Result<(), Malformed> {
    for f in fields {
        check_value(&f.value)?;
        check_regular_name(&f.name, &f.value)?;
    }
    check_content_length(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: &str, v: &str) -> Field {
        Field {
            name: Bytes::copy_from_slice(n.as_bytes()),
            value: Bytes::copy_from_slice(v.as_bytes()),
            sensitive: false,
        }
    }

    fn req(list: &[(&str, &str)]) -> Result<RequestHead, Malformed> {
        RequestHead::from_fields(list.iter().map(|(n, v)| f(n, v)).collect(), false)
    }

    const GET: [(&str, &str); 4] = [
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", "erp.internal:443"),
        (":path", "/a/b?c"),
    ];

    #[test]
    fn valid_requests() {
        let h = req(&GET).unwrap();
        assert_eq!(&h.path.unwrap()[..], b"/a/b?c");
        let c = req(&[(":method", "CONNECT"), (":authority", "ldap:389")]).unwrap();
        assert!(c.is_connect());
        let mut with_host = GET.to_vec();
        with_host.push(("host", "ERP.internal:443"));
        assert!(req(&with_host).is_ok());
    }

    #[test]
    fn malformed_requests() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[(":scheme", "http"), (":path", "/")], "without :method"),
            (
                &[(":method", "GET"), (":authority", "a"), (":path", "/")],
                ":scheme",
            ),
            (
                &[(":method", "CONNECT"), (":authority", "a"), (":path", "/")],
                "CONNECT",
            ),
            (&[(":method", "CONNECT")], "CONNECT without"),
            (&[(":method", "GET"), (":method", "GET")], "duplicate"),
            (&[(":method", "GET"), (":status", "200")], "pseudo"),
            (
                &[
                    (":method", "CONNECT"),
                    (":protocol", "websocket"),
                    (":authority", "a"),
                ],
                ":protocol",
            ),
        ];
        for (list, why) in cases {
            let e = req(list).unwrap_err();
            assert!(e.contains(why), "{list:?}: {e}");
        }
        let with = |extra: (&str, &str)| {
            let mut l = GET.to_vec();
            l.push(extra);
            req(&l)
        };
        assert!(with(("Upper", "x")).is_err());
        assert!(with(("connection", "close")).is_err());
        assert!(with(("transfer-encoding", "chunked")).is_err());
        assert!(with(("te", "gzip")).is_err());
        assert!(with(("te", "trailers")).is_ok());
        assert!(with(("x", "a\r\nb")).is_err());
        assert!(with(("x", "a\0b")).is_err());
        assert!(with(("x", " lead")).is_err());
        assert!(with(("host", "other")).is_err());
        assert!(with(("content-length", "12a")).is_err());
        assert!(with(("content-length", "5")).is_ok());
        let mut two_cl = GET.to_vec();
        two_cl.push(("content-length", "5"));
        two_cl.push(("content-length", "5"));
        assert!(req(&two_cl).is_err());
        let mut late_pseudo = GET.to_vec();
        late_pseudo.insert(1, ("x", "y"));
        assert!(req(&late_pseudo).is_err());
        let mut userinfo = GET.to_vec();
        userinfo[2] = (":authority", "user@erp");
        assert!(req(&userinfo).is_err());
        let mut bad_path = GET.to_vec();
        bad_path[3] = (":path", "a/b");
        assert!(req(&bad_path).is_err());
    }

    #[test]
    fn responses() {
        let r = ResponseHead::from_fields(vec![f(":status", "204"), f("x", "y")]).unwrap();
        assert_eq!(r.status, 204);
        for bad in ["20", "2000", "abc", "101", "099"] {
            assert!(
                ResponseHead::from_fields(vec![f(":status", bad)]).is_err(),
                "{bad}"
            );
        }
        assert!(ResponseHead::from_fields(vec![f(":path", "/")]).is_err());
        assert!(trailers_from_fields(vec![f(":status", "200")]).is_err());
        assert!(trailers_from_fields(vec![f("grpc-status", "0")]).is_ok());
    }
}
