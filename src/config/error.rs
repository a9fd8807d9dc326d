//! Positioned configuration errors and warnings.

use std::fmt;
use std::path::PathBuf;

/// What kind of problem a [`ConfigError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// The text is not valid TOML; parsing stopped here.
    Syntax,
    /// A key is unknown, missing or has the wrong type (the file does not match the schema).
    Schema,
    /// The value is well-formed but not acceptable (bad name, duplicate, security switched off…).
    Invalid,
    /// A file the configuration names does not exist or cannot be read.
    MissingFile,
}

/// One problem in a configuration file, with where it is.
///
/// Displays as `FILE:LINE:COL: KEY: MESSAGE` (line and column are 1-based; an error without a
/// position, such as an unreadable file, displays as `FILE: MESSAGE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration file (as given by the caller).
    pub file: PathBuf,
    /// 1-based line, 0 when the error has no position.
    pub line: u32,
    /// 1-based column in characters, 0 when the error has no position.
    pub column: u32,
    /// Dotted key path such as `subaccount[0].system[2].virtual_port`; empty for the file itself.
    pub key: String,
    /// What is wrong and what to change.
    pub message: String,
    /// Classification of the problem.
    pub kind: ErrorKind,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_positioned(
            f,
            &self.file,
            self.line,
            self.column,
            &self.key,
            &self.message,
        )
    }
}

impl std::error::Error for ConfigError {}

/// A configuration that is accepted but deserves the operator's attention at start-up (for
/// example a front door that admits callers without credentials because a tenant is
/// `trusted = true`). Displays like [`ConfigError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The configuration file.
    pub file: PathBuf,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
    /// Dotted key path the warning is about.
    pub key: String,
    /// What the configuration does and why it matters.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_positioned(
            f,
            &self.file,
            self.line,
            self.column,
            &self.key,
            &self.message,
        )
    }
}

fn write_positioned(
    f: &mut fmt::Formatter<'_>,
    file: &std::path::Path,
    line: u32,
    column: u32,
    key: &str,
    message: &str,
) -> fmt::Result {
    write!(f, "{}", file.display())?;
    if line > 0 {
        write!(f, ":{line}:{column}")?;
    }
    if !key.is_empty() {
        write!(f, ": {key}")?;
    }
    write!(f, ": {message}")
}

/// Every error found in one configuration file, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors, in file order.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none (a `ConfigErrors` returned as an `Err` never is).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One error per line.
impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
