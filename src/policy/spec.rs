//! What an operator writes about a system: the plain data the whitelist is compiled from.
//!
//! These types are shared by the configuration files (they deserialize with
//! `deny_unknown_fields`) and by the policy compiler. They say *what* is configured; the
//! checks (ranges, duplicates, path syntax) happen when the policy is compiled.

use serde::Deserialize;
use std::fmt;

/// How the connector talks to an internal system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1 in clear.
    Http,
    /// HTTP/1.1 over TLS (the backend's certificate checked against the trust store).
    Https,
    /// Raw TCP, reached through a CONNECT stream.
    Tcp,
    /// Raw TCP over TLS.
    Tcps,
    /// LDAP: raw TCP, reached through a CONNECT stream.
    Ldap,
    /// LDAP over TLS.
    Ldaps,
}

impl Protocol {
    /// True for the protocols served as HTTP requests (with a path whitelist).
    pub fn is_http(self) -> bool {
        matches!(self, Protocol::Http | Protocol::Https)
    }

    /// True when the connector speaks TLS to the backend.
    pub fn uses_tls(self) -> bool {
        matches!(self, Protocol::Https | Protocol::Tcps | Protocol::Ldaps)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Http => "http",
            Protocol::Https => "https",
            Protocol::Tcp => "tcp",
            Protocol::Tcps => "tcps",
            Protocol::Ldap => "ldap",
            Protocol::Ldaps => "ldaps",
        })
    }
}

/// Which host name the backend sees in `Host`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostInHeader {
    /// The virtual host (what the cloud application addressed). SCC's default.
    #[default]
    Virtual,
    /// The internal host; the virtual one then travels in `X-Forwarded-Host`.
    Internal,
}

/// How a resource path admits request paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathMatch {
    /// Only the path itself.
    Exact,
    /// The path and everything below it, on segment boundaries: `/a/b` admits `/a/b` and
    /// `/a/b/c`, never `/a/bc` (SCC admits the latter; we do not).
    Prefix,
}

/// A port or an inclusive port range (`5000` or `"5000-5010"`; ranges only for TCP-like
/// protocols).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortSpec {
    /// First port.
    pub first: u16,
    /// Last port (equal to `first` for a single port).
    pub last: u16,
}

impl PortSpec {
    /// One port.
    pub fn single(port: u16) -> Self {
        PortSpec {
            first: port,
            last: port,
        }
    }

    /// Number of ports in the range.
    pub fn count(self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    /// True for a single port.
    pub fn is_single(self) -> bool {
        self.first == self.last
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl std::str::FromStr for PortSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let port = |p: &str| -> Result<u16, String> {
            match p.trim().parse::<u16>() {
                Ok(0) | Err(_) => Err(format!("'{p}' is not a port (1-65535)")),
                Ok(n) => Ok(n),
            }
        };
        match s.split_once('-') {
            None => port(s).map(PortSpec::single),
            Some((a, b)) => {
                let (first, last) = (port(a)?, port(b)?);
                if first > last {
                    return Err(format!("port range '{s}' runs backwards"));
                }
                Ok(PortSpec { first, last })
            }
        }
    }
}

impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => match u16::try_from(n) {
                Ok(p) if p > 0 => Ok(PortSpec::single(p)),
                _ => Err(serde::de::Error::custom(format!(
                    "{n} is not a port (1-65535)"
                ))),
            },
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

fn yes() -> bool {
    true
}

/// One system mapping: a virtual host:port the cloud may address and where it really is.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemSpec {
    /// What the cloud addresses (a DNS-like name; compared case-insensitively).
    pub virtual_host: String,
    /// Virtual port or range.
    pub virtual_port: PortSpec,
    /// Where the connector connects (name or IP literal).
    pub internal_host: String,
    /// Internal port or range (a range must be as wide as the virtual one).
    pub internal_port: PortSpec,
    /// Protocol towards the backend.
    pub protocol: Protocol,
    /// Which host the backend sees in `Host` (HTTP systems).
    #[serde(default)]
    pub host_in_header: HostInHeader,
    /// A disabled system answers exactly like an unmapped one.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Paths the cloud may reach (HTTP systems; deny by default: no resource, no access).
    #[serde(default, rename = "resource")]
    pub resources: Vec<ResourceSpec>,
}

/// One whitelisted path of an HTTP system.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    /// The path, starting with `/`, in the same syntax a request path must have (decoded
    /// segments compared case-sensitively; the query string is never part of the match).
    pub path: String,
    /// `exact` or `prefix`.
    #[serde(rename = "match")]
    pub matching: PathMatch,
    /// A disabled resource admits nothing.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Whether a WebSocket upgrade (`Upgrade: websocket`, or an extended CONNECT) is allowed.
    #[serde(default)]
    pub websocket: bool,
}
