//! A tiny `--key value` argument reader: the harness binaries take a handful of flags each and
//! are driven by scripts, so a full argument parser would only add compile time.

use std::collections::HashMap;
use std::str::FromStr;

/// Flags after the subcommand, as `--key value` pairs (a flag without a value maps to "true").
pub struct Args {
    values: HashMap<String, Vec<String>>,
}

impl Args {
    /// Parses `argv` (without the program name and subcommand).
    pub fn parse(argv: &[String]) -> Result<Args, String> {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        let mut i = 0;
        while i < argv.len() {
            let key = argv[i].strip_prefix("--").ok_or_else(|| {
                format!(
                    "unexpected argument '{}': flags look like --name value",
                    argv[i]
                )
            })?;
            let value = match argv.get(i + 1) {
                Some(v) if !v.starts_with("--") => {
                    i += 1;
                    v.clone()
                }
                _ => "true".to_string(),
            };
            values.entry(key.to_string()).or_default().push(value);
            i += 1;
        }
        Ok(Args { values })
    }

    /// The last value of `--key`, if given.
    pub fn opt(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Every value of a repeatable `--key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.values.get(key).cloned().unwrap_or_default()
    }

    /// The value of a required `--key`.
    pub fn req(&self, key: &str) -> Result<&str, String> {
        self.opt(key).ok_or_else(|| format!("missing --{key}"))
    }

    /// `--key` parsed as `T`, or `default` when absent.
    pub fn num<T: FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.opt(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{key} '{v}': not a number")),
        }
    }

    /// True when the flag is present.
    pub fn flag(&self, key: &str) -> bool {
        self.opt(key).is_some_and(|v| v != "false")
    }
}
