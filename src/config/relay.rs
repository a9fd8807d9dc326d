//! The relay's configuration file: `[relay]` settings with its front doors and limits,
//! `[[identity_provider]]`s and `[[tenant]]`s with their SOCKS5 `[[tenant.user]]`s.

use super::common::{
    check_file, check_name, check_nonzero, check_secs, AuditLevel, Io, ListenAddr,
    DEFAULT_IDLE_TIMEOUT_SECS,
};
use super::connector::default_location;
use super::error::{ConfigErrors, ConfigWarning, ErrorKind};
use super::source::{index, join, Reader, SourceMap};
use super::Options;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

mod checks;
pub use checks::check_password_hash;

/// Most worker threads `threads` may ask for.
pub const MAX_THREADS: usize = 1024;

/// A parsed and checked relay file.
#[derive(Clone, Debug)]
pub struct RelayFile {
    /// The `[relay]` table.
    pub relay: RelaySettings,
    /// The `[[identity_provider]]`s (JWT issuers callers authenticate with).
    pub identity_providers: Vec<IdentityProvider>,
    /// The `[[tenant]]`s.
    pub tenants: Vec<Tenant>,
    source: SourceMap,
    warnings: Vec<ConfigWarning>,
}

impl RelayFile {
    /// Where each key is in the file, to position errors found later.
    pub fn source_map(&self) -> &SourceMap {
        &self.source
    }

    /// Start-up warnings (for example a `trusted = true` tenant); log each at start.
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }

    /// The tenant callers without credentials act as, if one is `trusted = true`.
    pub fn trusted_tenant(&self) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.trusted)
    }
}

fn default_tunnel_listen() -> ListenAddr {
    ListenAddr(std::net::SocketAddr::from(([0, 0, 0, 0], 20001)))
}

/// The `[relay]` table.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelaySettings {
    /// CA whose certificates connectors must present. Required: client certificates are
    /// always verified (never empty after loading; absolute).
    #[serde(default)]
    pub ca: PathBuf,
    /// The relay's certificate chain (absolute after loading).
    pub cert: PathBuf,
    /// The relay's private key (absolute after loading).
    pub key: PathBuf,
    /// Where connectors dial in (default `0.0.0.0:20001`).
    #[serde(default = "default_tunnel_listen")]
    pub tunnel_listen: ListenAddr,
    /// Worker threads; 0 = one per core.
    #[serde(default)]
    pub threads: usize,
    /// I/O backend.
    #[serde(default)]
    pub io: Io,
    /// Directory of the relay's audit trail (authentication failures), if any (absolute).
    #[serde(default)]
    pub audit_dir: Option<PathBuf>,
    /// What the relay audits.
    #[serde(default)]
    pub audit: AuditLevel,
    /// The HTTP forward-proxy front door (`[relay.http_proxy]`); `None` = no HTTP door.
    #[serde(default)]
    pub http_proxy: Option<FrontDoor>,
    /// The SOCKS5 front door (`[relay.socks5]`); `None` = no SOCKS5 door.
    #[serde(default)]
    pub socks5: Option<FrontDoor>,
    /// Size and time limits (`[relay.limits]`).
    #[serde(default)]
    pub limits: Limits,
}

/// A front door: where cloud applications connect.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontDoor {
    /// Listen address.
    pub listen: ListenAddr,
}

/// The `[relay.limits]` table; every field is optional.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Longest HTTP request line in bytes (default 8192).
    pub request_line_bytes: usize,
    /// Largest HTTP request head in bytes (default 65536).
    pub header_bytes: usize,
    /// Seconds a caller has to send its request head (default 30).
    pub header_timeout_secs: u64,
    /// Seconds the connector side has to start a response (default 60).
    pub response_timeout_secs: u64,
    /// Seconds a spliced stream (CONNECT, SOCKS5, WebSocket) may move no byte either way
    /// before it is closed (default 600).
    pub idle_timeout_secs: u64,
    /// Seconds a connector has for the TLS handshake (default 10).
    pub handshake_timeout_secs: u64,
    /// Seconds a SOCKS5 caller has for its handshake (default 10).
    pub socks_handshake_timeout_secs: u64,
    /// Seconds between keepalive PINGs on an idle tunnel (default 10).
    pub keepalive_secs: u64,
    /// Largest accepted JWT in bytes (default 8192).
    pub jwt_max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_line_bytes: 8192,
            header_bytes: 65536,
            header_timeout_secs: 30,
            response_timeout_secs: 60,
            idle_timeout_secs: DEFAULT_IDLE_TIMEOUT_SECS,
            handshake_timeout_secs: 10,
            socks_handshake_timeout_secs: 10,
            keepalive_secs: 10,
            jwt_max_bytes: 8192,
        }
    }
}

impl Limits {
    /// `header_timeout_secs` as a duration.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }
    /// `response_timeout_secs` as a duration.
    pub fn response_timeout(&self) -> Duration {
        Duration::from_secs(self.response_timeout_secs)
    }
    /// `idle_timeout_secs` as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }
    /// `handshake_timeout_secs` as a duration.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }
    /// `socks_handshake_timeout_secs` as a duration.
    pub fn socks_handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.socks_handshake_timeout_secs)
    }
    /// `keepalive_secs` as a duration.
    pub fn keepalive(&self) -> Duration {
        Duration::from_secs(self.keepalive_secs)
    }
}

/// A JWT signature algorithm the relay accepts. Only asymmetric ones exist here: `none` and
/// the HMAC family (`HS*`) are refused when the file is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JwtAlgorithm {
    /// ECDSA P-256 SHA-256.
    Es256,
    /// ECDSA P-384 SHA-384.
    Es384,
    /// RSASSA-PKCS1-v1_5 SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 SHA-512.
    Rs512,
    /// RSASSA-PSS SHA-256.
    Ps256,
    /// RSASSA-PSS SHA-384.
    Ps384,
    /// RSASSA-PSS SHA-512.
    Ps512,
    /// Ed25519.
    EdDsa,
}

impl JwtAlgorithm {
    /// Every accepted algorithm.
    pub const ALL: [JwtAlgorithm; 9] = [
        JwtAlgorithm::Es256,
        JwtAlgorithm::Es384,
        JwtAlgorithm::Rs256,
        JwtAlgorithm::Rs384,
        JwtAlgorithm::Rs512,
        JwtAlgorithm::Ps256,
        JwtAlgorithm::Ps384,
        JwtAlgorithm::Ps512,
        JwtAlgorithm::EdDsa,
    ];

    /// The JOSE name (`alg` header value).
    pub fn name(self) -> &'static str {
        match self {
            JwtAlgorithm::Es256 => "ES256",
            JwtAlgorithm::Es384 => "ES384",
            JwtAlgorithm::Rs256 => "RS256",
            JwtAlgorithm::Rs384 => "RS384",
            JwtAlgorithm::Rs512 => "RS512",
            JwtAlgorithm::Ps256 => "PS256",
            JwtAlgorithm::Ps384 => "PS384",
            JwtAlgorithm::Ps512 => "PS512",
            JwtAlgorithm::EdDsa => "EdDSA",
        }
    }
}

impl FromStr for JwtAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(a) = Self::ALL.into_iter().find(|a| a.name() == s) {
            return Ok(a);
        }
        let allowed = Self::ALL.map(|a| a.name()).join(", ");
        Err(if s.eq_ignore_ascii_case("none") {
            format!("`{s}` is refused: unsigned tokens could be forged by anyone; allowed are {allowed}")
        } else if s.len() >= 2 && s.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("hs")) {
            format!(
                "`{s}` is refused: with shared-secret (HMAC) algorithms whoever can verify a \
                 token can also mint one, and they invite key-confusion attacks; use an \
                 asymmetric algorithm: {allowed}"
            )
        } else {
            format!("unknown JWT algorithm `{s}`; allowed are {allowed}")
        })
    }
}

impl<'de> Deserialize<'de> for JwtAlgorithm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, not `String::deserialize` and a parse afterwards: an error raised inside
        // the visitor carries the array element's position, not the whole array's.
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = JwtAlgorithm;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JWT algorithm name such as \"ES256\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<JwtAlgorithm, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

fn default_clock_skew() -> u64 {
    60
}

/// Most clock skew an identity provider may be granted, in seconds.
pub const MAX_CLOCK_SKEW_SECS: u64 = 600;

/// One `[[identity_provider]]`: a JWT issuer whose tokens authenticate callers.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProvider {
    /// Name used in logs and audit records.
    pub name: String,
    /// Expected `iss` claim (exact match).
    pub issuer: String,
    /// Expected `aud` claim.
    pub audience: String,
    /// Accepted signature algorithms (allow-list, at least one).
    pub algorithms: Vec<JwtAlgorithm>,
    /// The claim that names the caller's tenant.
    pub tenant_claim: String,
    /// Tolerated clock difference for `exp`/`nbf`, in seconds (default 60).
    #[serde(default = "default_clock_skew")]
    pub clock_skew_secs: u64,
    /// JWKS file with the provider's public keys (absolute after loading).
    #[serde(default)]
    pub jwks: Option<PathBuf>,
    /// Single public keys (`[[identity_provider.key]]`).
    #[serde(default, rename = "key")]
    pub keys: Vec<ProviderKey>,
}

impl IdentityProvider {
    /// `clock_skew_secs` as a duration.
    pub fn clock_skew(&self) -> Duration {
        Duration::from_secs(self.clock_skew_secs)
    }
}

/// One `[[identity_provider.key]]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderKey {
    /// PEM file: an SPKI public key or a certificate (absolute after loading).
    pub file: PathBuf,
    /// Key id (`kid`) tokens name; optional when the provider has a single key.
    #[serde(default)]
    pub kid: Option<String>,
}

/// One `[[tenant]]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// Tenant name (as in connector certificates).
    pub name: String,
    /// Callers without credentials are this tenant. At most one tenant may be trusted, and it
    /// produces a start-up warning.
    #[serde(default)]
    pub trusted: bool,
    /// Location used when a caller names none (default `default`).
    #[serde(default = "default_location")]
    pub default_location: String,
    /// Connector locations this tenant may register; empty = any.
    #[serde(default)]
    pub locations: Vec<String>,
    /// SOCKS5 username/password callers (`[[tenant.user]]`).
    #[serde(default, rename = "user")]
    pub users: Vec<User>,
}

/// One `[[tenant.user]]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Username (RFC 1929: 1 to 255 bytes).
    pub name: String,
    /// Argon2id hash in PHC format (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    pub password_hash: String,
}

pub(crate) fn parse(text: &str, origin: &Path, opts: &Options) -> Result<RelayFile, ConfigErrors> {
    let (mut r, mut root) = Reader::parse(text, origin)?;
    let section = root.remove("relay");
    let providers = root.remove("identity_provider");
    let tenants = root.remove("tenant");
    for (k, _) in root.iter() {
        let key = join("", k.get_ref());
        let message = if k.get_ref() == "connector" || k.get_ref() == "subaccount" {
            format!("a relay file cannot hold `{key}`: the connector has its own file")
        } else {
            format!(
                "unknown top-level key `{key}`; a relay file has [relay], \
                 [[identity_provider]] and [[tenant]]"
            )
        };
        r.error(&key, ErrorKind::Schema, message);
    }

    let mut settings = None;
    match section {
        None => r.error(
            "relay",
            ErrorKind::Schema,
            "missing [relay] table (ca, cert and key are required)",
        ),
        Some(v) => {
            let has_ca = v
                .get_ref()
                .as_table()
                .is_some_and(|t| t.get("ca").is_some());
            let (s, [http, socks, limits]) =
                r.de_table::<RelaySettings, 3>(v, "relay", ["http_proxy", "socks5", "limits"]);
            let http_proxy = http.and_then(|v| r.de::<FrontDoor>(v, "relay.http_proxy"));
            let socks5 = socks.and_then(|v| r.de::<FrontDoor>(v, "relay.socks5"));
            let limits = limits
                .and_then(|v| r.de::<Limits>(v, "relay.limits"))
                .unwrap_or_default();
            if s.is_none() && !has_ca {
                // `checks::settings` reports a missing `ca`, but runs only on a table that was
                // read: say it here too, it is the error that matters most.
                checks::missing_ca(&mut r);
            }
            settings = s.map(|s| RelaySettings {
                http_proxy,
                socks5,
                limits,
                ..s
            });
        }
    }

    // Front-door checks count providers and tenants: skip them when one failed to read, or
    // they would report a consequence of the schema error as a second error.
    let before = r.error_count();
    let mut idps = Vec::new();
    for (i, elem) in r
        .elements(providers, "identity_provider")
        .into_iter()
        .enumerate()
    {
        let path = index("identity_provider", i);
        let (idp, [keys]) = r.de_table::<IdentityProvider, 1>(elem, &path, ["key"]);
        let kpath = join(&path, "key");
        let mut ks = Vec::new();
        for (j, kv) in r.elements(keys, &kpath).into_iter().enumerate() {
            ks.extend(r.de::<ProviderKey>(kv, &index(&kpath, j)));
        }
        if let Some(idp) = idp {
            idps.push((path, IdentityProvider { keys: ks, ..idp }));
        }
    }

    let mut ts = Vec::new();
    for (i, elem) in r.elements(tenants, "tenant").into_iter().enumerate() {
        let path = index("tenant", i);
        let (t, [users]) = r.de_table::<Tenant, 1>(elem, &path, ["user"]);
        let upath = join(&path, "user");
        let mut us = Vec::new();
        for (j, uv) in r.elements(users, &upath).into_iter().enumerate() {
            us.extend(r.de::<User>(uv, &index(&upath, j)));
        }
        if let Some(t) = t {
            ts.push((path, Tenant { users: us, ..t }));
        }
    }

    if let Some(s) = settings.as_mut() {
        checks::settings(&mut r, s, opts);
    }
    checks::identity_providers(&mut r, &mut idps, opts);
    checks::tenants(&mut r, &ts);
    let complete = r.error_count() == before;
    if let (Some(s), true) = (&settings, complete) {
        checks::front_doors(&mut r, s, &idps, &ts);
    }

    let (source, warnings) = r.finish()?;
    Ok(RelayFile {
        // `finish` succeeded, so the table was read.
        relay: settings.ok_or_else(|| ConfigErrors(Vec::new()))?,
        identity_providers: idps.into_iter().map(|(_, p)| p).collect(),
        tenants: ts.into_iter().map(|(_, t)| t).collect(),
        source,
        warnings,
    })
}

/// Paths of the elements already seen under one name, for duplicate reports.
type Seen = HashMap<String, String>;
