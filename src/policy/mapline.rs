//! The short `--map` syntax of the command line and the demo:
//! `virtual-host:port=internal-host:port[/http|/https|/tcp|/tcps|/ldap|/ldaps]`.
//!
//! A mapped HTTP system gets one resource, `prefix "/"`: **all paths of this system are
//! allowed**. It is the quick way to expose a system; a configuration file with explicit
//! resources is the way to restrict it. Ports may be ranges (`5000-5010`) for TCP-like
//! protocols, as in the configuration files.

use super::spec::{HostInHeader, PathMatch, PortSpec, Protocol, ResourceSpec, SystemSpec};
use std::fmt;

/// Why a `--map` value is not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapLineError {
    /// The text is not `virtual-host:port=internal-host:port[/protocol]`; carries the text.
    Syntax(String),
    /// The protocol suffix is not one of http, https, tcp, tcps, ldap, ldaps.
    UnknownProtocol(String),
}

impl fmt::Display for MapLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapLineError::Syntax(s) => write!(
                f,
                "mapping '{s}': expected virtual-host:port=internal-host:port[/http|/https|/tcp|/tcps|/ldap|/ldaps]"
            ),
            MapLineError::UnknownProtocol(p) => write!(
                f,
                "mapping protocol '{p}' is unknown: use http, https, tcp, tcps, ldap or ldaps"
            ),
        }
    }
}

impl std::error::Error for MapLineError {}

/// Parses one `--map` value into a system (protocol default `http`). Host names and port
/// ranges are checked when the systems are compiled.
pub fn parse_map_line(line: &str) -> Result<SystemSpec, MapLineError> {
    let err = || MapLineError::Syntax(line.to_string());
    let (virt, rest) = line.split_once('=').ok_or_else(err)?;
    let (internal, protocol) = match rest.rsplit_once('/') {
        Some((i, p)) => (
            i,
            match p {
                "http" => Protocol::Http,
                "https" => Protocol::Https,
                "tcp" => Protocol::Tcp,
                "tcps" => Protocol::Tcps,
                "ldap" => Protocol::Ldap,
                "ldaps" => Protocol::Ldaps,
                other => return Err(MapLineError::UnknownProtocol(other.to_string())),
            },
        ),
        None => (rest, Protocol::Http),
    };
    let split = |s: &str| -> Result<(String, PortSpec), MapLineError> {
        let (host, port) = s.rsplit_once(':').ok_or_else(err)?;
        let port: PortSpec = port.parse().map_err(|_| err())?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(err());
        }
        Ok((host.to_string(), port))
    };
    let (virtual_host, virtual_port) = split(virt)?;
    let (internal_host, internal_port) = split(internal)?;
    let resources = if protocol.is_http() {
        vec![ResourceSpec {
            path: "/".into(),
            matching: PathMatch::Prefix,
            enabled: true,
            websocket: false,
        }]
    } else {
        Vec::new()
    };
    Ok(SystemSpec {
        virtual_host,
        virtual_port,
        internal_host,
        internal_port,
        protocol,
        host_in_header: HostInHeader::Virtual,
        enabled: true,
        resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_systems() {
        let s = parse_map_line("ERP.virtual:80=127.0.0.1:8080").unwrap();
        assert_eq!(s.virtual_host, "ERP.virtual");
        assert_eq!(s.internal_port, PortSpec::single(8080));
        assert_eq!(s.protocol, Protocol::Http);
        assert_eq!(s.resources.len(), 1);
        assert_eq!(s.resources[0].matching, PathMatch::Prefix);
        let t = parse_map_line("ldap.virtual:389-390=[::1]:1389-1390/ldap").unwrap();
        assert_eq!(t.internal_host, "::1");
        assert_eq!(t.virtual_port.count(), 2);
        assert!(t.resources.is_empty());
        for bad in ["a:1", "a=b:1", "a:0=b:1", ":1=b:1", "a:1=b:x", "a:1=:1"] {
            assert!(
                matches!(parse_map_line(bad), Err(MapLineError::Syntax(_))),
                "{bad}"
            );
        }
        assert_eq!(
            parse_map_line("a:1=b:1/ftp"),
            Err(MapLineError::UnknownProtocol("ftp".into()))
        );
    }
}
