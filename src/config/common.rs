//! Value types and checks shared by the relay and the connector file.

use super::error::ErrorKind;
use super::source::Reader;
use crate::io::runtime::IoMode;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

/// The `io` setting: which I/O backend the process runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Io {
    /// io_uring when available, otherwise epoll (with a warning).
    #[default]
    Auto,
    /// io_uring or refuse to start.
    Uring,
    /// epoll only.
    Epoll,
}

impl From<Io> for IoMode {
    fn from(io: Io) -> IoMode {
        match io {
            Io::Auto => IoMode::Auto,
            Io::Uring => IoMode::Uring,
            Io::Epoll => IoMode::Epoll,
        }
    }
}

/// The `audit` setting: the audit sink's own level type (`security` | `all` | `off`).
pub use crate::audit::Level as AuditLevel;

/// A listen address: an IP literal and a port (`127.0.0.1:20003`, `[::1]:20003`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(ListenAddr).map_err(|_| {
            serde::de::Error::custom(format!(
                "`{s}` is not a listen address: write an IP address and a port such as \
                 127.0.0.1:20003 or [::1]:20003 (host names are not accepted here)"
            ))
        })
    }
}

/// Splits `host:port` (`[v6]:port` for IPv6 literals) and checks both parts.
pub(crate) fn host_port(s: &str) -> Result<(&str, u16), String> {
    let example = "write host:port such as relay.example.com:20001 or [2001:db8::1]:20001";
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest
            .split_once("]:")
            .ok_or_else(|| format!("`{s}` is not host:port: {example}"))?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`{h}` in `{s}` is not an IPv6 address"));
        }
        (h, p)
    } else {
        let (h, p) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("`{s}` has no port: {example}"))?;
        if h.contains(':') {
            return Err(format!(
                "`{s}` is ambiguous: put an IPv6 address in brackets ([addr]:port)"
            ));
        }
        if h.is_empty()
            || !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        {
            return Err(format!(
                "`{h}` in `{s}` is not a host name or IP address: {example}"
            ));
        }
        (h, p)
    };
    match p_port(port) {
        Some(p) => Ok((host, p)),
        None => Err(format!("`{port}` in `{s}` is not a port (1-65535)")),
    }
}

fn p_port(p: &str) -> Option<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&n| n > 0)
}

/// Checks a tenant or location name with [`crate::tls::check_name`].
pub(crate) fn check_name(r: &mut Reader, key: &str, what: &'static str, name: &str) -> bool {
    match crate::tls::check_name(what, name) {
        Ok(()) => true,
        Err(crate::tls::TlsError::InvalidIdentity { reason, .. }) => {
            r.invalid(key, format!("`{name}`: {reason}"));
            false
        }
        Err(e) => {
            r.invalid(key, format!("`{name}`: {e}"));
            false
        }
    }
}

/// Reports a file that does not exist or is no regular file (when file checks are on).
pub(crate) fn check_file(r: &mut Reader, enabled: bool, key: &str, what: &str, path: &Path) {
    if !enabled {
        return;
    }
    match std::fs::metadata(path) {
        Err(e) => r.error(
            key,
            ErrorKind::MissingFile,
            format!("cannot read the {what} {}: {e}", path.display()),
        ),
        Ok(m) if m.is_dir() => r.error(
            key,
            ErrorKind::MissingFile,
            format!("the {what} {} is a directory, not a file", path.display()),
        ),
        Ok(_) => {}
    }
}

/// Reports a duration or size of zero where zero would make the program useless.
pub(crate) fn check_nonzero(r: &mut Reader, key: &str, value: u64, what: &str) {
    if value == 0 {
        r.invalid(key, format!("{what} must be at least 1"));
    }
}

/// Default of `idle_timeout_secs`, relay and connector: ten minutes without a byte either way
/// closes a spliced stream. Long enough for interactive sessions and pooled LDAP or database
/// connections between uses; clients that must stay connected longer send keep-alives.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 600;

/// The largest number of seconds a timeout or interval may be set to (a year): far beyond any
/// sensible setting, and small enough that no deadline computed from it overflows the clock.
pub const MAX_SECS: u64 = 365 * 86_400;

/// A number of seconds must be at least 1 and at most [`MAX_SECS`].
pub(crate) fn check_secs(r: &mut Reader, key: &str, value: u64, what: &str) {
    if value == 0 {
        r.invalid(key, format!("{what} must be at least 1"));
    } else if value > MAX_SECS {
        r.invalid(
            key,
            format!("{what} is {value}; at most {MAX_SECS} (a year)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_accepts_names_v4_and_bracketed_v6() {
        assert_eq!(
            host_port("relay.example.com:20001"),
            Ok(("relay.example.com", 20001))
        );
        assert_eq!(host_port("10.0.0.1:1"), Ok(("10.0.0.1", 1)));
        assert_eq!(host_port("[2001:db8::1]:443"), Ok(("2001:db8::1", 443)));
    }

    #[test]
    fn host_port_refuses_what_is_not_host_port() {
        for bad in [
            "relay.example.com",
            ":20001",
            "relay:0",
            "relay:65536",
            "relay:+1",
            "2001:db8::1:443",
            "[nothex]:1",
            "[::1]",
            "re lay:1",
        ] {
            assert!(host_port(bad).is_err(), "{bad} accepted");
        }
    }
}
