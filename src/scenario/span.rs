//! Source positions for scenario files.
//!
//! The TOML parser reports byte ranges; authors want `line:column`. [`SourceMap`] turns one into the
//! other, and [`Sp`] is the field wrapper that keeps a value's byte range from the file so that
//! validation can point at the exact token it complains about.

use std::fmt;
use std::ops::{Deref, Range};

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// A value read from a scenario file together with the byte range it came from.
///
/// Deserialises exactly like `T` (the span is recorded by the TOML deserializer) and has the same
/// JSON Schema as `T`, so wrapping a field changes nothing for the scenario author.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Sp<T> {
    value: T,
    span: Range<usize>,
}

impl<T> Sp<T> {
    /// Wraps `value` with the byte range `span`.
    pub fn new(value: T, span: Range<usize>) -> Self {
        Self { value, span }
    }

    /// The byte range of the value in its source file.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The wrapped value.
    pub fn get(&self) -> &T {
        &self.value
    }

    /// Unwraps the value, dropping its position.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T: Default> Default for Sp<T> {
    /// A default value that did not come from the file (empty span).
    fn default() -> Self {
        Self::new(T::default(), 0..0)
    }
}

impl<T> Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Sp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: fmt::Display> fmt::Display for Sp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = toml::Spanned::<T>::deserialize(deserializer)?;
        let span = spanned.span();
        Ok(Self::new(spanned.into_inner(), span))
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    /// Line number, starting at 1.
    pub line: usize,
    /// Column number in characters, starting at 1.
    pub column: usize,
}

/// Maps byte offsets of one source text to lines and columns.
#[derive(Debug, Clone)]
pub struct SourceMap<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    /// Indexes the line starts of `text`.
    pub fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, line_starts }
    }

    /// The text the offsets point into.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The line and column of byte `offset` (clamped to the text).
    pub fn line_col(&self, offset: usize) -> LineCol {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_index = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let line_start = self.line_starts[line_index];
        LineCol {
            line: line_index + 1,
            column: self.text[line_start..offset].chars().count() + 1,
        }
    }

    /// The text of line `line` (1-based) without its line break, if it exists.
    pub fn line_text(&self, line: usize) -> Option<&'a str> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        let rest = &self.text[start..];
        let end = rest.find('\n').unwrap_or(rest.len());
        Some(rest[..end].trim_end_matches('\r'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_and_in_characters() {
        let map = SourceMap::new("ab\nçd = 1\n");
        assert_eq!(map.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(map.line_col(3), LineCol { line: 2, column: 1 });
        // 'ç' is two bytes: the 'd' after it is column 2.
        assert_eq!(map.line_col(5), LineCol { line: 2, column: 2 });
        assert_eq!(map.line_text(2), Some("çd = 1"));
    }

    #[test]
    fn offsets_past_the_end_are_clamped() {
        let map = SourceMap::new("a\n");
        assert_eq!(map.line_col(99), LineCol { line: 2, column: 1 });
    }

    #[test]
    fn spanned_fields_record_their_position() {
        #[derive(Deserialize)]
        struct Doc {
            name: Sp<String>,
        }
        let doc: Doc = toml::from_str("name = \"x\"").expect("valid toml");
        assert_eq!(doc.name.get(), "x");
        assert_eq!(doc.name.span(), 7..10);
    }
}
