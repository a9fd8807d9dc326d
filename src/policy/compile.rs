//! From [`SystemSpec`]s to a [`SubaccountPolicy`]: every check that can be made at load time
//! is made here, and all problems are reported at once.

use super::normalize::{check_path, PathError};
use super::spec::{PathMatch, PortSpec, Protocol, SystemSpec};
use super::trie::{Mark, PathTrie};
use super::{CompiledSystem, HostMap, Rule, SubaccountPolicy};
use crate::proto::http1::parse_authority;
use std::fmt;
use std::sync::Arc;

/// One problem in the configured systems, located by system index (0-based, in the order
/// given), virtual host and, for resource problems, resource index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// Index of the system in the list given to [`SubaccountPolicy::compile`].
    pub system: usize,
    /// Its virtual host, as written.
    pub virtual_host: String,
    /// Index of the resource within the system, for resource problems.
    pub resource: Option<usize>,
    /// What is wrong.
    pub kind: PolicyErrorKind,
}

/// What is wrong with a system or resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyErrorKind {
    /// The virtual host is not a DNS-style name (letters, digits, `-`, `_`, dots between
    /// non-empty labels, no trailing dot) nor an IP literal (dotted-quad IPv4 or IPv6).
    BadVirtualHost(String),
    /// The internal host is neither such a name nor an IP address.
    BadInternalHost(String),
    /// A port is 0 or a range runs backwards.
    BadPort(PortSpec),
    /// The virtual host and port (range) overlap those of an earlier system.
    Overlap {
        /// Index of the earlier system.
        other: usize,
    },
    /// A port range on an HTTP system (ranges are for TCP-like protocols).
    RangeOnHttp,
    /// Virtual and internal ranges differ in width.
    UnequalRangeWidths {
        /// Ports in the virtual range.
        virtual_ports: u32,
        /// Ports in the internal range.
        internal_ports: u32,
    },
    /// Resources on a TCP-like system (they have no paths).
    ResourcesOnTcp,
    /// A resource path is not a path a request could have.
    BadResourcePath(PathError),
    /// A resource path carries a query (the query is never part of the match).
    QueryInResourcePath,
    /// The same path with the same match kind is configured twice.
    DuplicateResource {
        /// Index of the earlier resource.
        other: usize,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "system #{} ({})", self.system, self.virtual_host)?;
        if let Some(r) = self.resource {
            write!(f, ", resource #{r}")?;
        }
        f.write_str(": ")?;
        match &self.kind {
            PolicyErrorKind::BadVirtualHost(why) => write!(
                f,
                "virtual host is not usable ({why}); write a DNS-style name such as erp.virtual"
            ),
            PolicyErrorKind::BadInternalHost(why) => write!(
                f,
                "internal host is not usable ({why}); write a host name or an IP address"
            ),
            PolicyErrorKind::BadPort(p) => {
                write!(
                    f,
                    "port '{p}' is invalid; ports are 1-65535, ranges ascending"
                )
            }
            PolicyErrorKind::Overlap { other } => write!(
                f,
                "virtual host and port overlap system #{other}; each virtual host:port must \
                 map to one system"
            ),
            PolicyErrorKind::RangeOnHttp => f.write_str(
                "port ranges are for tcp/tcps/ldap/ldaps systems; give http/https one port",
            ),
            PolicyErrorKind::UnequalRangeWidths {
                virtual_ports,
                internal_ports,
            } => write!(
                f,
                "virtual range has {virtual_ports} ports but internal range {internal_ports}; \
                 make them equally wide (they map at the same offset)"
            ),
            PolicyErrorKind::ResourcesOnTcp => f.write_str(
                "resources are path rules for http/https systems; remove them from this system",
            ),
            PolicyErrorKind::BadResourcePath(e) => write!(f, "resource path rejected: {e}"),
            PolicyErrorKind::QueryInResourcePath => f.write_str(
                "resource path has a '?': queries are never matched, remove it from the path",
            ),
            PolicyErrorKind::DuplicateResource { other } => write!(
                f,
                "same path and match as resource #{other}; remove one of them"
            ),
        }
    }
}

impl std::error::Error for PolicyError {}

/// Checks a virtual host: a DNS-style name, or an IPv4 (dotted quad) or IPv6 literal that the
/// operator maps explicitly (SOCKS5 clients may name their target by address; SAP's SOCKS5
/// door accepts IPv4). Returns the canonical form the lookup uses: names in lower case,
/// addresses as `Ipv4Addr`/`Ipv6Addr` print them (IPv6 without brackets). Numeric forms that
/// resolvers read as addresses but that are not a dotted quad (`2130706433`, `10.1`) are
/// refused: they would name an address without looking like one.
pub(crate) fn check_virtual_host(host: &str) -> Result<String, String> {
    if let Some(ip) = canonical_ip(host) {
        return Ok(ip);
    }
    if host.contains(':') {
        return Err("contains ':' (ports go in virtual_port)".into());
    }
    let hp = parse_authority(host.as_bytes()).map_err(|e| e.to_string())?;
    if hp.ipv6 || is_ip_like(hp.host) {
        return Err("a numeric name that is not a dotted-quad IPv4 address".into());
    }
    Ok(hp.host.to_ascii_lowercase())
}

/// The canonical text of an IP literal (`[v6]` or bare v6, strict dotted-quad v4), if `host` is
/// one.
pub(crate) fn canonical_ip(host: &str) -> Option<String> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(v6) = bare.parse::<std::net::Ipv6Addr>() {
        return Some(v6.to_string());
    }
    host.parse::<std::net::Ipv4Addr>()
        .ok()
        .map(|v4| v4.to_string())
}

/// True for names whose last label is all digits (IPv4 literals, and numeric forms such as
/// `2130706433` that resolvers treat as addresses).
fn is_ip_like(host: &str) -> bool {
    host.rsplit('.')
        .next()
        .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks an internal host (name, IPv4, IPv6 with or without brackets). Returns it without
/// brackets and whether it is IPv6.
fn check_internal_host(host: &str) -> Result<(String, bool), String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((bare.to_string(), true));
    }
    if host.contains(':') {
        return Err("contains ':' (ports go in internal_port)".into());
    }
    let hp = parse_authority(host.as_bytes()).map_err(|e| e.to_string())?;
    Ok((hp.host.to_string(), false))
}

pub(crate) fn compile(systems: &[SystemSpec]) -> Result<SubaccountPolicy, Vec<PolicyError>> {
    let mut errors = Vec::new();
    let mut hosts = HostMap::default();
    let mut uses_tls = false;
    for (index, spec) in systems.iter().enumerate() {
        let mut err = |resource, kind| {
            errors.push(PolicyError {
                system: index,
                virtual_host: spec.virtual_host.clone(),
                resource,
                kind,
            })
        };
        let virtual_host = check_virtual_host(&spec.virtual_host)
            .map_err(|why| err(None, PolicyErrorKind::BadVirtualHost(why)))
            .ok();
        let internal = check_internal_host(&spec.internal_host)
            .map_err(|why| err(None, PolicyErrorKind::BadInternalHost(why)))
            .ok();
        let mut ports_ok = true;
        for p in [spec.virtual_port, spec.internal_port] {
            if p.first == 0 || p.first > p.last {
                err(None, PolicyErrorKind::BadPort(p));
                ports_ok = false;
            }
        }
        if ports_ok {
            let ranged = !spec.virtual_port.is_single() || !spec.internal_port.is_single();
            if spec.protocol.is_http() && ranged {
                err(None, PolicyErrorKind::RangeOnHttp);
                ports_ok = false;
            } else if spec.virtual_port.count() != spec.internal_port.count() {
                err(
                    None,
                    PolicyErrorKind::UnequalRangeWidths {
                        virtual_ports: spec.virtual_port.count(),
                        internal_ports: spec.internal_port.count(),
                    },
                );
                ports_ok = false;
            }
        }
        let (trie, rules) = compile_resources(spec, &mut err);
        let (Some(virtual_host), Some((internal_host, internal_ipv6)), true) =
            (virtual_host, internal, ports_ok)
        else {
            continue;
        };
        let list = hosts.entry(virtual_host.clone().into()).or_default();
        if let Some(other) = list.iter().find(|s| {
            s.virtual_ports.first <= spec.virtual_port.last
                && spec.virtual_port.first <= s.virtual_ports.last
        }) {
            err(None, PolicyErrorKind::Overlap { other: other.index });
            continue;
        }
        uses_tls |= spec.enabled && spec.protocol.uses_tls();
        list.push(Arc::new(CompiledSystem {
            index,
            virtual_host: virtual_host.into(),
            virtual_ports: spec.virtual_port,
            internal_host: internal_host.into(),
            internal_ipv6,
            internal_ports: spec.internal_port,
            protocol: spec.protocol,
            host_in_header: spec.host_in_header,
            enabled: spec.enabled,
            rules,
            trie,
        }));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(SubaccountPolicy {
        hosts,
        systems: systems.len(),
        uses_tls,
    })
}

/// Compiles the resources of one system into its trie (enabled ones only; all are checked).
fn compile_resources(
    spec: &SystemSpec,
    err: &mut impl FnMut(Option<usize>, PolicyErrorKind),
) -> (PathTrie, Vec<Rule>) {
    let mut trie = PathTrie::default();
    let mut rules = Vec::new();
    if !spec.protocol.is_http() {
        if !spec.resources.is_empty() {
            err(None, PolicyErrorKind::ResourcesOnTcp);
        }
        return (trie, rules);
    }
    // Index in `rules` → index in `spec.resources`, for duplicate reports.
    let mut origin = Vec::new();
    for (ri, res) in spec.resources.iter().enumerate() {
        let checked = match check_path(res.path.as_bytes()) {
            Ok(c) => c,
            Err(e) => {
                err(Some(ri), PolicyErrorKind::BadResourcePath(e));
                continue;
            }
        };
        if checked.query().is_some() {
            err(Some(ri), PolicyErrorKind::QueryInResourcePath);
            continue;
        }
        if !res.enabled {
            continue;
        }
        let mut segments: Vec<&str> = checked.segments().collect();
        let mark = match res.matching {
            PathMatch::Exact => Mark::Exact,
            // `/a/b/` as a prefix: everything strictly below `/a/b`.
            PathMatch::Prefix if segments.last() == Some(&"") => {
                segments.pop();
                Mark::Below
            }
            PathMatch::Prefix => Mark::Subtree,
        };
        let id = rules.len() as u32;
        match trie.insert(segments, mark, id) {
            Ok(()) => {
                rules.push(Rule {
                    path: res.path.clone().into(),
                    websocket: res.websocket,
                });
                origin.push(ri);
            }
            Err(existing) => {
                let other = origin.get(existing as usize).copied().unwrap_or_default();
                err(Some(ri), PolicyErrorKind::DuplicateResource { other });
            }
        }
    }
    (trie, rules)
}

impl Protocol {
    /// The port a URL of this protocol's scheme implies (80 for http, 443 for https).
    pub(crate) fn default_http_port(self) -> Option<u16> {
        match self {
            Protocol::Http => Some(80),
            Protocol::Https => Some(443),
            _ => None,
        }
    }
}
