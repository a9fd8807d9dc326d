//! Where every key of a configuration file is, and a collector that deserializes a file piece by
//! piece so that independent errors are all reported.

use super::error::{ConfigError, ConfigErrors, ConfigWarning, ErrorKind};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

/// Most errors reported for one file: a garbage file should not produce a screenful per byte.
const MAX_ERRORS: usize = 200;

/// Most bad keys reported for one table.
const MAX_RETRIES: usize = 32;

#[derive(Clone, Debug)]
struct Entry {
    key: Range<usize>,
    value: Range<usize>,
}

/// The position of every key in a parsed configuration file, by dotted key path
/// (`subaccount[0].system[2].resource[1].path`).
///
/// Kept alongside the parsed file so that errors found later (for example when the policy is
/// compiled) can be reported with a line and column.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    file: PathBuf,
    text: String,
    line_starts: Vec<usize>,
    entries: BTreeMap<String, Entry>,
}

impl SourceMap {
    /// A map of `text` (read from `file`) without any keys; [`SourceMap::record`] fills it.
    fn new(file: &Path, text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        SourceMap {
            file: file.to_owned(),
            text: text.to_owned(),
            line_starts,
            entries: BTreeMap::new(),
        }
    }

    /// The file the map describes.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// 1-based line and column (in characters) of `key` as written in the file: the key itself
    /// for `a.b = …`, the header for `[a.b]`, and the element for `a[3]`. `None` when the file
    /// does not contain the key (for example a key left at its default).
    pub fn locate(&self, key: &str) -> Option<(u32, u32)> {
        self.entries.get(key).map(|e| self.position(e.key.start))
    }

    /// Like [`SourceMap::locate`], but falls back to the nearest enclosing key that the file
    /// contains, and to line 1, column 1 for a key outside every table.
    pub fn locate_nearest(&self, key: &str) -> (u32, u32) {
        let mut k = key;
        loop {
            if let Some(pos) = self.locate(k) {
                return pos;
            }
            match parent(k) {
                Some(p) => k = p,
                None => return (1, 1),
            }
        }
    }

    /// A [`ConfigError`] about `key`, positioned with [`SourceMap::locate_nearest`].
    pub fn error(&self, key: &str, kind: ErrorKind, message: impl Into<String>) -> ConfigError {
        let (line, column) = self.locate_nearest(key);
        ConfigError {
            file: self.file.clone(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
            kind,
        }
    }

    /// 1-based line and column of a byte offset.
    fn position(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let column = match self.text.get(start..offset) {
            Some(s) => s.chars().count(),
            None => offset - start,
        };
        (to_u32(line), to_u32(column + 1))
    }

    /// Records every key of `table` (recursively) under `prefix`.
    fn record(&mut self, prefix: &str, table: &DeTable<'_>) {
        for (k, v) in table.iter() {
            let path = join(prefix, k.get_ref());
            self.record_value(path, k.span(), v);
        }
    }

    fn record_value(&mut self, path: String, key: Range<usize>, value: &Spanned<DeValue<'_>>) {
        match value.get_ref() {
            DeValue::Table(t) => self.record(&path, t),
            DeValue::Array(a) => {
                for (i, elem) in a.iter().enumerate() {
                    self.record_value(index(&path, i), elem.span(), elem);
                }
            }
            _ => {}
        }
        self.entries.insert(
            path,
            Entry {
                key,
                value: value.span(),
            },
        );
    }

    /// The key a serde error span points at: the key whose name is at `span`, otherwise the
    /// innermost value containing it.
    fn key_for_span(&self, span: &Range<usize>) -> String {
        let mut best: Option<(&String, usize)> = None;
        for (path, e) in &self.entries {
            if e.key.start == span.start && e.key.end == span.end {
                return path.clone();
            }
            if e.value.start <= span.start && span.end <= e.value.end {
                let len = e.value.end - e.value.start;
                if best.is_none_or(|(p, l)| len < l || (len == l && path.len() > p.len())) {
                    best = Some((path, len));
                }
            }
        }
        best.map(|(p, _)| p.clone()).unwrap_or_default()
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A key taken out of a table because its value was reported.
struct Removed {
    name: String,
    key: Range<usize>,
    value: Range<usize>,
}

/// Removes from a table value the entry whose key or value contains `span`.
fn take_child(value: &mut Spanned<DeValue<'_>>, span: &Range<usize>) -> Option<Removed> {
    let DeValue::Table(t) = value.get_mut() else {
        return None;
    };
    let within = |r: &Range<usize>| r.start <= span.start && span.end <= r.end;
    let gone = t
        .iter()
        .find(|(k, v)| within(&k.span()) || within(&v.span()))
        .map(|(k, v)| Removed {
            name: k.get_ref().to_string(),
            key: k.span(),
            value: v.span(),
        })?;
    t.remove(gone.name.as_str());
    Some(gone)
}

/// Puts a value of some type back for a removed required key, the first that `T` accepts
/// (serde then reports the next problem, not this key again). False if none fits.
fn stand_in<T: DeserializeOwned>(value: &mut Spanned<DeValue<'_>>, gone: &Removed) -> bool {
    let about_gone = |e: &toml::de::Error| {
        e.span().is_none_or(|s| {
            (gone.value.start <= s.start && s.end <= gone.value.end) || s == gone.key
        }) || e.message() == format!("missing field `{}`", gone.name)
    };
    for literal in ["\"\"", "1", "false", "[]", "{}"] {
        let Ok(stand_in) = DeValue::parse(literal) else {
            continue;
        };
        let DeValue::Table(t) = value.get_mut() else {
            return false;
        };
        t.insert(
            Spanned::new(gone.key.clone(), gone.name.clone().into()),
            Spanned::new(gone.value.clone(), stand_in.into_inner()),
        );
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(_) => return true,
            Err(e) if !about_gone(&e) => return true,
            Err(_) => {}
        }
    }
    if let DeValue::Table(t) = value.get_mut() {
        t.remove(gone.name.as_str());
    }
    false
}

/// `prefix.key`, quoting `key` when it is not a bare TOML key.
pub(crate) fn join(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// `prefix[i]`.
pub(crate) fn index(prefix: &str, i: usize) -> String {
    format!("{prefix}[{i}]")
}

/// The enclosing key of a dotted path (`a.b[2]` → `a.b` → `a`), `None` at the top.
fn parent(key: &str) -> Option<&str> {
    let mut quoted = false;
    let mut escaped = false;
    let mut last = None;
    for (i, c) in key.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '.' | '[' => last = Some(i),
            _ => {}
        }
    }
    last.and_then(|i| key.get(..i))
}

/// Collects errors and warnings while a file is read piece by piece.
pub(crate) struct Reader {
    pub(crate) map: SourceMap,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigWarning>,
    base: PathBuf,
}

impl Reader {
    /// Parses `text` as TOML. A syntax error ends the reading: it is the only error reported.
    pub(crate) fn parse<'i>(
        text: &'i str,
        origin: &Path,
    ) -> Result<(Reader, DeTable<'i>), ConfigErrors> {
        let mut map = SourceMap::new(origin, text);
        let table = match DeTable::parse(text) {
            Ok(t) => t.into_inner(),
            Err(e) => {
                let (line, column) = e.span().map_or((1, 1), |s| map.position(s.start));
                return Err(ConfigErrors(vec![ConfigError {
                    file: origin.to_owned(),
                    line,
                    column,
                    key: String::new(),
                    message: format!("TOML syntax error: {}", e.message().trim_end()),
                    kind: ErrorKind::Syntax,
                }]));
            }
        };
        map.record("", &table);
        let dir = origin.parent().unwrap_or(Path::new(""));
        let base = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
        Ok((
            Reader {
                map,
                errors: Vec::new(),
                warnings: Vec::new(),
                base,
            },
            table,
        ))
    }

    /// Reports an error about `key`.
    pub(crate) fn error(&mut self, key: &str, kind: ErrorKind, message: impl Into<String>) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(self.map.error(key, kind, message));
        }
    }

    /// Number of errors reported so far.
    pub(crate) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Reports an [`ErrorKind::Invalid`] error about `key`.
    pub(crate) fn invalid(&mut self, key: &str, message: impl Into<String>) {
        self.error(key, ErrorKind::Invalid, message);
    }

    /// Records a start-up warning about `key`.
    pub(crate) fn warn(&mut self, key: &str, message: impl Into<String>) {
        let (line, column) = self.map.locate_nearest(key);
        self.warnings.push(ConfigWarning {
            file: self.map.file.clone(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
        });
    }

    /// Deserializes one value (a table, usually); a schema error is reported and gives `None`.
    ///
    /// serde stops at the first error in a struct. To report every bad key of a table, the key
    /// an error is about is taken out and the table deserialized again, up to
    /// [`MAX_RETRIES`] times; a later "missing field" about a key taken out is not reported
    /// again.
    pub(crate) fn de<T: DeserializeOwned>(
        &mut self,
        mut value: Spanned<DeValue<'_>>,
        path: &str,
    ) -> Option<T> {
        let mut removed: Vec<Removed> = Vec::new();
        for _ in 0..MAX_RETRIES {
            let e = match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(v) if removed.is_empty() => return Some(v),
                Ok(_) => return None,
                Err(e) => e,
            };
            let message = match e.message().trim_end() {
                // What toml says for an enum given a number, array or boolean.
                "wanted string or table" => {
                    "invalid type: expected a string naming one of the allowed values".to_owned()
                }
                m => m.to_owned(),
            };
            // serde names a missing field only in the message.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|r| r.strip_suffix('`'))
                .map(str::to_owned);
            if let Some(field) = &missing {
                if let Some(gone) = removed.iter().find(|g| &g.name == field) {
                    // Already reported. A stand-in value lets serde go on to the next
                    // missing field; when none fits (an enum), stop here.
                    if !stand_in::<T>(&mut value, gone) {
                        return None;
                    }
                    continue;
                }
            }
            let mut key = e
                .span()
                .map(|s| self.map.key_for_span(&s))
                .unwrap_or_default();
            if key.is_empty() || !key.starts_with(path) {
                key = path.to_owned();
            }
            if let Some(field) = &missing {
                key = join(&key, field);
            }
            self.schema_error(key, message, e.span());
            if missing.is_some() {
                return None;
            }
            match e.span().and_then(|span| take_child(&mut value, &span)) {
                Some(gone) => removed.push(gone),
                None => return None,
            }
        }
        None
    }

    /// Reports a serde error, positioned at what serde complained about (the key or the bad
    /// value) when it says, else at the key.
    fn schema_error(&mut self, key: String, message: String, span: Option<Range<usize>>) {
        match span {
            Some(span) if self.errors.len() < MAX_ERRORS => {
                let (line, column) = self.map.position(span.start);
                self.errors.push(ConfigError {
                    file: self.map.file.clone(),
                    line,
                    column,
                    key,
                    message,
                    kind: ErrorKind::Schema,
                });
            }
            _ => self.error(&key, ErrorKind::Schema, message),
        }
    }

    /// Deserializes a table after taking out the keys in `children` (arrays of tables or
    /// sub-tables read separately so that their errors are reported independently). Returns the
    /// value (`None` on an error) and the children that were present, in `children` order.
    pub(crate) fn de_table<'i, T: DeserializeOwned, const N: usize>(
        &mut self,
        value: Spanned<DeValue<'i>>,
        path: &str,
        children: [&str; N],
    ) -> (Option<T>, [Option<Spanned<DeValue<'i>>>; N]) {
        let span = value.span();
        let mut taken = [const { None }; N];
        let value = match value.into_inner() {
            DeValue::Table(mut t) => {
                for (slot, name) in taken.iter_mut().zip(children) {
                    *slot = t.remove(name);
                }
                Spanned::new(span, DeValue::Table(t))
            }
            other => Spanned::new(span, other),
        };
        (self.de(value, path), taken)
    }

    /// The elements of an array of tables; anything else is reported and gives none.
    pub(crate) fn elements<'i>(
        &mut self,
        value: Option<Spanned<DeValue<'i>>>,
        path: &str,
    ) -> Vec<Spanned<DeValue<'i>>> {
        let Some(value) = value else {
            return Vec::new();
        };
        let span = value.span();
        match value.into_inner() {
            DeValue::Array(a) => a.into_iter().collect(),
            other => {
                let found = other.type_str();
                let (line, column) = self.map.position(span.start);
                self.errors.push(ConfigError {
                    file: self.map.file.clone(),
                    line,
                    column,
                    key: path.to_owned(),
                    message: format!("expected an array of tables (`[[{path}]]`), found {found}"),
                    kind: ErrorKind::Schema,
                });
                Vec::new()
            }
        }
    }

    /// Makes a configured path absolute: relative paths resolve against the file's directory.
    pub(crate) fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base.join(p)
        }
    }

    /// Ends the reading: `Ok` with the source map and warnings when no error was reported.
    pub(crate) fn finish(mut self) -> Result<(SourceMap, Vec<ConfigWarning>), ConfigErrors> {
        if self.errors.is_empty() {
            return Ok((self.map, self.warnings));
        }
        self.errors.sort_by_key(|e| (e.line, e.column));
        if self.errors.len() >= MAX_ERRORS {
            let note = self.map.error(
                "",
                ErrorKind::Invalid,
                format!("stopped after {MAX_ERRORS} errors"),
            );
            self.errors.push(note);
        }
        Err(ConfigErrors(self.errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_walks_up_dotted_and_indexed_keys() {
        assert_eq!(parent("a.b[2].c"), Some("a.b[2]"));
        assert_eq!(parent("a.b[2]"), Some("a.b"));
        assert_eq!(parent("a.\"x.y\""), Some("a"));
        assert_eq!(parent("a"), None);
    }

    #[test]
    fn join_quotes_keys_that_are_not_bare() {
        assert_eq!(join("", "tenant"), "tenant");
        assert_eq!(join("a", "x.y"), "a.\"x.y\"");
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let text = "# ä\n[t]\n\"ü\" = 1\nk = 2\n";
        let (reader, _) = Reader::parse(text, Path::new("f.toml")).unwrap();
        // A table header points at the name inside the brackets.
        assert_eq!(reader.map.locate("t"), Some((2, 2)));
        assert_eq!(reader.map.locate("t.k"), Some((4, 1)));
        assert_eq!(reader.map.locate("t.\"ü\""), Some((3, 1)));
        assert_eq!(reader.map.locate("nope"), None);
        assert_eq!(reader.map.locate_nearest("t.k.deeper[3]"), (4, 1));
    }
}
