//! Access policy on the connector: which virtual systems exist for a subaccount, where they
//! really are, and which paths of them the cloud may reach (deny by default).
//!
//! ```text
//!  SystemSpec[] ──compile──► SubaccountPolicy ──check_http / check_connect──► Admitted ──► dialer
//!  (config, --map)           (host map + one                                  (proof token:
//!                             segment trie per system)                         only this module
//!                                                                              makes one)
//! ```
//!
//! The backend dialer takes an [`Admitted`], and only this module can construct one, so no
//! code path forwards a request the whitelist did not pass. The path in the token is exactly
//! the path forwarded: [`normalize::check_path`] refuses ambiguous paths instead of rewriting
//! them. The rules are written down in `docs/policy.md`.

mod admitted;
mod compile;
pub mod mapline;
pub mod normalize;
pub mod spec;
mod trie;

#[cfg(test)]
mod tests;

pub use admitted::Admitted;
pub use compile::{PolicyError, PolicyErrorKind};
pub use mapline::{parse_map_line, MapLineError};
pub use normalize::{check_path, check_path_bytes, CheckedPath, PathError};
pub use spec::{HostInHeader, PathMatch, PortSpec, Protocol, ResourceSpec, SystemSpec};

use crate::proto::http1::parse_authority;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use trie::PathTrie;

/// Virtual host (lower case) → the systems on it, one per disjoint port range. Keys come
/// from the configuration only, so the fast unkeyed-against-attackers hash carries no HashDoS
/// risk.
type HostMap = HashMap<Box<str>, Vec<Arc<CompiledSystem>>, foldhash::fast::RandomState>;

/// The compiled, immutable policy of one subaccount (tenant): its systems and their path
/// whitelists. Cheap to share between threads (`Arc`).
#[derive(Debug)]
pub struct SubaccountPolicy {
    hosts: HostMap,
    systems: usize,
    uses_tls: bool,
}

/// One compiled system.
#[derive(Debug)]
struct CompiledSystem {
    index: usize,
    virtual_host: Box<str>,
    virtual_ports: PortSpec,
    /// Without brackets for IPv6.
    internal_host: Box<str>,
    internal_ipv6: bool,
    internal_ports: PortSpec,
    protocol: Protocol,
    host_in_header: HostInHeader,
    enabled: bool,
    rules: Vec<Rule>,
    trie: PathTrie,
}

/// One enabled resource, as the trie refers to it.
#[derive(Debug)]
struct Rule {
    path: Box<str>,
    websocket: bool,
}

/// What [`SubaccountPolicy::check_http`] needs to know about a request.
#[derive(Clone, Copy, Debug)]
pub struct HttpRequest<'a> {
    /// `:authority` as received (`host[:port]`).
    pub authority: &'a [u8],
    /// The port implied by the scheme when the authority has none (80 or 443).
    pub default_port: u16,
    /// `:path` as received (origin form, query included).
    pub path: &'a [u8],
    /// True for a WebSocket upgrade (`upgrade: websocket`, or extended CONNECT with
    /// `:protocol websocket`).
    pub websocket_upgrade: bool,
}

/// Why a request is refused. The answers deliberately say little: a host that is unmapped,
/// disabled or another tenant's all get [`Denial::NoSuchSystem`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The path is malformed or ambiguous (400).
    BadPath(PathError),
    /// The authority is malformed: userinfo, empty host, trailing dot, bad or missing port
    /// (400).
    BadAuthority,
    /// No enabled system of this subaccount has this virtual host and port (403).
    NoSuchSystem,
    /// The system exists but no enabled resource admits the path (403).
    NotWhitelisted,
    /// A resource admits the path but not a WebSocket upgrade (403).
    WebSocketNotAllowed,
    /// The system speaks another protocol: a plain request to a TCP system or a CONNECT to
    /// an HTTP one (405).
    WrongProtocol,
}

impl Denial {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Denial::BadPath(_) | Denial::BadAuthority => 400,
            Denial::NoSuchSystem | Denial::NotWhitelisted | Denial::WebSocketNotAllowed => 403,
            Denial::WrongProtocol => 405,
        }
    }

    /// A short reason for the answer body (never echoes request bytes or internal names).
    pub fn reason(&self) -> &'static str {
        match self {
            Denial::BadPath(e) => e.reason(),
            Denial::BadAuthority => "malformed authority (host[:port], no userinfo)",
            Denial::NoSuchSystem => "no such system",
            Denial::NotWhitelisted => "path not allowed",
            Denial::WebSocketNotAllowed => "websocket upgrade not allowed on this path",
            Denial::WrongProtocol => "system is mapped for another protocol",
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status(), self.reason())
    }
}

impl SubaccountPolicy {
    /// Compiles the systems of one subaccount. On failure returns every problem found, each
    /// naming the system index and virtual host (and resource index).
    pub fn compile(systems: &[SystemSpec]) -> Result<Self, Vec<PolicyError>> {
        compile::compile(systems)
    }

    /// Decides on an HTTP request (not CONNECT). `Ok` carries the proof token the forwarder
    /// needs; its path is the request's path, byte for byte (copied into the token).
    pub fn check_http(&self, req: &HttpRequest<'_>) -> Result<Admitted, Denial> {
        self.decide_http(req, None)
    }

    /// [`check_http`](Self::check_http) for a caller that holds the path as `Bytes` already
    /// (the connector: a slice of the tunnel's receive buffer). `req.path` must be `path`'s
    /// bytes; the token then shares `path` instead of copying it, which is most of the cost
    /// of an admitted decision after the lookups.
    pub fn check_http_shared(
        &self,
        req: &HttpRequest<'_>,
        path: &bytes::Bytes,
    ) -> Result<Admitted, Denial> {
        let same = req.path.as_ptr() == path.as_ptr() && req.path.len() == path.len();
        self.decide_http(req, same.then_some(path))
    }

    fn decide_http(
        &self,
        req: &HttpRequest<'_>,
        shared: Option<&bytes::Bytes>,
    ) -> Result<Admitted, Denial> {
        let (system, port) = self.system(req.authority, Some(req.default_port))?;
        if !system.protocol.is_http() {
            return Err(Denial::WrongProtocol);
        }
        // Decide on the path where it lies; copy it only once admitted (or not at all).
        let path = normalize::check_view(req.path).map_err(Denial::BadPath)?;
        let rule = system
            .trie
            .lookup(path.segments())
            .ok_or(Denial::NotWhitelisted)?;
        let websocket = system.rules.get(rule as usize).is_some_and(|r| r.websocket);
        if req.websocket_upgrade && !websocket {
            return Err(Denial::WebSocketNotAllowed);
        }
        let checked = match shared {
            Some(bytes) => path.into_checked_sharing(bytes.clone()),
            None => path.into_checked(),
        };
        Ok(Admitted::new(
            system.clone(),
            port,
            req.default_port,
            Some(checked),
            Some(rule),
        ))
    }

    /// Decides on a CONNECT to `authority` (`host:port`, port required) for a TCP-like
    /// system.
    pub fn check_connect(&self, authority: &[u8]) -> Result<Admitted, Denial> {
        let (system, port) = self.system(authority, None)?;
        if system.protocol.is_http() {
            return Err(Denial::WrongProtocol);
        }
        Ok(Admitted::new(system.clone(), port, port, None, None))
    }

    /// True if any enabled system is reached over TLS (a backend trust store is needed).
    pub fn uses_tls(&self) -> bool {
        self.uses_tls
    }

    /// Number of systems (enabled or not).
    pub fn len(&self) -> usize {
        self.systems
    }

    /// True when no system is configured (everything is refused).
    pub fn is_empty(&self) -> bool {
        self.systems == 0
    }

    /// The enabled system behind an authority, and the virtual port addressed.
    fn system(
        &self,
        authority: &[u8],
        default_port: Option<u16>,
    ) -> Result<(&Arc<CompiledSystem>, u16), Denial> {
        let hp = parse_authority(authority).map_err(|_| Denial::BadAuthority)?;
        let port = hp.port.or(default_port).ok_or(Denial::BadAuthority)?;
        // Only a bracketed IPv6 literal or a host starting with a digit can be an address;
        // names skip the parse (this is the per-request hot path).
        let maybe_ip = hp.ipv6 || hp.host.as_bytes().first().is_some_and(u8::is_ascii_digit);
        if let Some(ip) = maybe_ip.then(|| compile::canonical_ip(hp.host)).flatten() {
            // An address names a system only if the operator mapped exactly that address.
            return self.find(&ip, port);
        }
        if hp.ipv6 {
            return Err(Denial::BadAuthority);
        }
        let mut lower = [0u8; 256];
        let host = lower.get_mut(..hp.host.len()).ok_or(Denial::BadAuthority)?;
        host.copy_from_slice(hp.host.as_bytes());
        host.make_ascii_lowercase();
        let host = std::str::from_utf8(host).map_err(|_| Denial::BadAuthority)?;
        self.find(host, port)
    }

    /// The enabled system mapped at `host` (canonical form) whose ports include `port`.
    fn find(&self, host: &str, port: u16) -> Result<(&Arc<CompiledSystem>, u16), Denial> {
        self.hosts
            .get(host)
            .and_then(|list| {
                list.iter().find(|s| {
                    s.enabled && s.virtual_ports.first <= port && port <= s.virtual_ports.last
                })
            })
            .map(|s| (s, port))
            .ok_or(Denial::NoSuchSystem)
    }
}
