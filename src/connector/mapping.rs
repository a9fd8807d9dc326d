//! System mapping: which virtual host:port the cloud may address, and where it really is.
//!
//! The cloud side only ever names *virtual* hosts; the internal names and addresses never
//! leave the connector. Lookups are exact on (lower-cased host, port): anything not mapped
//! is refused. (The full policy — whitelist of paths, per-tenant configuration files — is
//! its own piece of work; this is the mapping it builds on.)

use std::collections::HashMap;
use std::fmt;

/// How the connector talks to the internal system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 in clear.
    Http,
    /// HTTP/1.1 over TLS (the backend's certificate checked against the trust store).
    Https,
    /// Raw TCP (a CONNECT stream).
    Tcp,
    /// Raw TCP over TLS.
    Tcps,
}

/// One mapped system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct System {
    /// What the cloud addresses (lower case).
    pub virtual_host: String,
    /// Virtual port.
    pub virtual_port: u16,
    /// Where it really is: `host:port` as the connector resolves it.
    pub internal: String,
    /// Protocol towards the backend.
    pub protocol: Protocol,
}

/// Why a mapping line is not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MappingError {
    /// The text is not `virtual-host:port=internal-host:port[/http|/https|/tcp|/tcps]`.
    Syntax(String),
    /// The same virtual host:port is mapped twice.
    Duplicate(String),
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingError::Syntax(s) => write!(
                f,
                "mapping '{s}': expected virtual-host:port=internal-host:port[/http|/https|/tcp|/tcps]"
            ),
            MappingError::Duplicate(s) => write!(f, "virtual system '{s}' is mapped twice"),
        }
    }
}

impl std::error::Error for MappingError {}

/// The connector's systems, looked up by virtual host and port.
#[derive(Clone, Debug, Default)]
pub struct SystemMap {
    systems: HashMap<(String, u16), System>,
}

impl SystemMap {
    /// Adds a system.
    pub fn insert(&mut self, system: System) -> Result<(), MappingError> {
        let key = (system.virtual_host.clone(), system.virtual_port);
        if self.systems.contains_key(&key) {
            return Err(MappingError::Duplicate(format!("{}:{}", key.0, key.1)));
        }
        self.systems.insert(key, system);
        Ok(())
    }

    /// Parses `virtual-host:port=internal-host:port[/http|/https|/tcp|/tcps]` (default `/http`).
    pub fn parse_line(line: &str) -> Result<System, MappingError> {
        let err = || MappingError::Syntax(line.to_string());
        let (virt, rest) = line.split_once('=').ok_or_else(err)?;
        let (internal, proto) = match rest.rsplit_once('/') {
            Some((i, "http")) => (i, Protocol::Http),
            Some((i, "https")) => (i, Protocol::Https),
            Some((i, "tcp")) => (i, Protocol::Tcp),
            Some((i, "tcps")) => (i, Protocol::Tcps),
            Some(_) => return Err(err()),
            None => (rest, Protocol::Http),
        };
        let (vhost, vport) = split_host_port(virt).ok_or_else(err)?;
        split_host_port(internal).ok_or_else(err)?;
        Ok(System {
            virtual_host: vhost.to_ascii_lowercase(),
            virtual_port: vport,
            internal: internal.to_string(),
            protocol: proto,
        })
    }

    /// The system behind an `authority` (`host:port`, or `host` with `default_port`).
    pub fn lookup(&self, authority: &[u8], default_port: u16) -> Option<&System> {
        let text = std::str::from_utf8(authority).ok()?;
        let (host, port) = match split_host_port(text) {
            Some((h, p)) => (h, p),
            None if !text.contains(':') && !text.is_empty() => (text, default_port),
            None => return None,
        };
        self.systems.get(&(host.to_ascii_lowercase(), port))
    }

    /// True if any system is reached over TLS (a backend trust store is then needed).
    pub fn uses_tls(&self) -> bool {
        self.systems
            .values()
            .any(|s| matches!(s.protocol, Protocol::Https | Protocol::Tcps))
    }

    /// Number of systems.
    pub fn len(&self) -> usize {
        self.systems.len()
    }

    /// True when nothing is mapped (everything is refused).
    pub fn is_empty(&self) -> bool {
        self.systems.is_empty()
    }
}

/// `host:port` with a non-empty host and a port in 1..=65535 (IPv6 in brackets).
fn split_host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return None;
    }
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_lookup() {
        let mut m = SystemMap::default();
        m.insert(SystemMap::parse_line("ERP.virtual:443=127.0.0.1:8080").unwrap())
            .unwrap();
        m.insert(SystemMap::parse_line("ldap.virtual:389=10.0.0.5:1389/tcp").unwrap())
            .unwrap();
        assert_eq!(
            m.lookup(b"erp.VIRTUAL:443", 80).unwrap().internal,
            "127.0.0.1:8080"
        );
        assert_eq!(
            m.lookup(b"ldap.virtual:389", 80).unwrap().protocol,
            Protocol::Tcp
        );
        assert!(m.lookup(b"erp.virtual:444", 80).is_none());
        assert!(m.lookup(b"erp.virtual", 80).is_none());
        assert!(m.lookup(b"erp.virtual", 443).is_some());
        assert!(m
            .insert(SystemMap::parse_line("erp.virtual:443=x:1").unwrap())
            .is_err());
        for bad in [
            "a:1",
            "a=b:1",
            "a:0=b:1",
            "a:1=b:1/ftp",
            ":1=b:1",
            "u@a:1=b:1",
        ] {
            assert!(SystemMap::parse_line(bad).is_err(), "{bad}");
        }
    }
}
