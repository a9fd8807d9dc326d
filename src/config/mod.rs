//! Configuration files of the relay and the connector (TOML).
//!
//! Both files are read with serde and `deny_unknown_fields`, piece by piece (each array element
//! on its own) so that independent mistakes are all reported at once, each as a
//! [`ConfigError`] with file, line, column and dotted key. A TOML syntax error stops the reading
//! and is the only error reported. After the schema, semantic checks run: names, duplicates,
//! addresses, files that must exist, and above all configurations that would run with security
//! silently off (no client-certificate verification, a front door nobody authenticates on),
//! which are refused.
//!
//! Relative paths in a file resolve against that file's directory; the parsed structs hold
//! absolute paths. The [`SourceMap`] kept with a parsed file positions errors found later, such
//! as policy compile errors keyed by `subaccount[0].system[2].resource[1].path`.
//!
//! The reference of every key is `docs/config.md`; commented examples are in `examples/`.

mod common;
pub mod connector;
pub mod error;
pub mod relay;
pub mod source;

#[cfg(test)]
mod tests;

pub use common::{AuditLevel, Io, ListenAddr, DEFAULT_IDLE_TIMEOUT_SECS, MAX_SECS};
pub use connector::{
    ConnectorFile, ConnectorSettings, Subaccount, Syslog, SyslogTransport,
    DEFAULT_STREAMS_PER_TUNNEL,
};
pub use error::{ConfigError, ConfigErrors, ConfigWarning, ErrorKind};
pub use relay::{
    FrontDoor, IdentityProvider, JwtAlgorithm, Limits, ProviderKey, RelayFile, RelaySettings,
    Tenant, User,
};
pub use source::SourceMap;

use std::path::Path;

/// How much checking a load does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Check that the files the configuration names (certificates, keys, trust bundles, JWKS)
    /// exist and are readable. On by default; off for fuzzing and for checking a file on
    /// another machine than where it will run.
    pub check_files: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { check_files: true }
    }
}

/// Which program a configuration file is for, from its top-level table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The file has a `[relay]` table.
    Relay,
    /// The file has a `[connector]` table.
    Connector,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Relay => "relay",
            Kind::Connector => "connector",
        })
    }
}

/// A parsed file of either kind.
#[derive(Clone, Debug)]
pub enum AnyFile {
    /// A relay configuration.
    Relay(RelayFile),
    /// A connector configuration.
    Connector(ConnectorFile),
}

impl AnyFile {
    /// Which kind of file this is.
    pub fn kind(&self) -> Kind {
        match self {
            AnyFile::Relay(_) => Kind::Relay,
            AnyFile::Connector(_) => Kind::Connector,
        }
    }

    /// Start-up warnings (accepted but noteworthy settings).
    pub fn warnings(&self) -> &[ConfigWarning] {
        match self {
            AnyFile::Relay(r) => r.warnings(),
            AnyFile::Connector(c) => c.warnings(),
        }
    }
}

/// Reads and checks a connector file, including that the files it names exist.
pub fn load_connector(path: &Path) -> Result<ConnectorFile, ConfigErrors> {
    load_connector_with(path, &Options::default())
}

/// Reads and checks a connector file with explicit [`Options`].
pub fn load_connector_with(path: &Path, opts: &Options) -> Result<ConnectorFile, ConfigErrors> {
    parse_connector_str(&read(path)?, path, opts)
}

/// Reads and checks a relay file, including that the files it names exist.
pub fn load_relay(path: &Path) -> Result<RelayFile, ConfigErrors> {
    load_relay_with(path, &Options::default())
}

/// Reads and checks a relay file with explicit [`Options`].
pub fn load_relay_with(path: &Path, opts: &Options) -> Result<RelayFile, ConfigErrors> {
    parse_relay_str(&read(path)?, path, opts)
}

/// Parses connector configuration text; `origin` names it in errors and is the base of
/// relative paths (its directory).
pub fn parse_connector_str(
    text: &str,
    origin: &Path,
    opts: &Options,
) -> Result<ConnectorFile, ConfigErrors> {
    connector::parse(text, origin, opts)
}

/// Parses relay configuration text; `origin` as for [`parse_connector_str`].
pub fn parse_relay_str(
    text: &str,
    origin: &Path,
    opts: &Options,
) -> Result<RelayFile, ConfigErrors> {
    relay::parse(text, origin, opts)
}

/// Checks a file of either kind (the kind comes from its top-level `[relay]` or `[connector]`
/// table) and says which it is.
pub fn check_file(path: &Path) -> Result<Kind, ConfigErrors> {
    load_any_with(path, &Options::default()).map(|f| f.kind())
}

/// Reads and checks a file of either kind.
pub fn load_any_with(path: &Path, opts: &Options) -> Result<AnyFile, ConfigErrors> {
    parse_any_str(&read(path)?, path, opts)
}

/// Parses text of either kind; both or neither of `[relay]` and `[connector]` is an error.
pub fn parse_any_str(text: &str, origin: &Path, opts: &Options) -> Result<AnyFile, ConfigErrors> {
    let (reader, root) = source::Reader::parse(text, origin)?;
    let relay = root.get("relay").is_some();
    let connector = root.get("connector").is_some();
    let kind = match (relay, connector) {
        (true, false) => Kind::Relay,
        (false, true) => Kind::Connector,
        (both, _) => {
            let message = if both {
                "the file has both [relay] and [connector]; a relay and a connector are configured in separate files"
            } else {
                "the file has neither a [relay] nor a [connector] table, so it is no sallyport configuration"
            };
            let key = if both { "connector" } else { "" };
            return Err(ConfigErrors(vec![reader.map.error(
                key,
                ErrorKind::Schema,
                message,
            )]));
        }
    };
    match kind {
        Kind::Relay => parse_relay_str(text, origin, opts).map(AnyFile::Relay),
        Kind::Connector => parse_connector_str(text, origin, opts).map(AnyFile::Connector),
    }
}

fn read(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_owned(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the configuration file: {e}"),
            kind: ErrorKind::Io,
        }])
    })
}
