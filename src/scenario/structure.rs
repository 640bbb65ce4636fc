//! Structural check of a parsed TOML document against the scenario's JSON Schema.
//!
//! serde stops at the first problem it meets; an author fixing a file wants all of them. So before
//! deserialising, this pass walks the spanned TOML tree beside the JSON Schema that `schemars`
//! derives from the raw types and collects *every* unknown key (with a "did you mean"), missing
//! required key, wrong type, invalid enum value and out-of-range integer, each at its position.
//!
//! ```text
//!  TOML text ──parse──▶ spanned tree ──check against schema──▶ diagnostics
//!                                     └──(no diagnostics)──▶ serde ──▶ RawScenario
//! ```
//!
//! Only the subset of JSON Schema that schemars emits for our types is understood: `$ref`,
//! `type`, `properties`, `required`, `additionalProperties`, `items`, `anyOf`/`oneOf` of a type and
//! `null` (an `Option`), `oneOf`/`enum` of string constants (a unit enum) and integer formats.

use serde_json::Value as Json;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, unknown_name_help};

/// Checks `document` against `schema` (a JSON Schema with `$defs`), appending to `out`.
pub fn check_document(document: &Spanned<DeTable<'_>>, schema: &Json, out: &mut Vec<Diagnostic>) {
    let checker = Checker { root: schema };
    checker.check_table(
        document.get_ref(),
        document.span(),
        schema,
        &mut Vec::new(),
        out,
    );
}

struct Checker<'s> {
    root: &'s Json,
}

/// The JSON Schema type names a TOML value satisfies.
fn json_types(value: &DeValue<'_>) -> &'static [&'static str] {
    match value {
        DeValue::String(_) => &["string"],
        // Deserialised as a special table, not a string: only schema-less values accept it.
        DeValue::Datetime(_) => &[],
        DeValue::Integer(_) => &["integer", "number"],
        DeValue::Float(_) => &["number"],
        DeValue::Boolean(_) => &["boolean"],
        DeValue::Array(_) => &["array"],
        DeValue::Table(_) => &["object"],
    }
}

/// How a TOML value is described to an author.
fn toml_type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn describe_type(ty: &str) -> &'static str {
    match ty {
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean (true or false)",
        "array" => "an array",
        "object" => "a table",
        _ => "a value",
    }
}

fn example_of(ty: &str) -> &'static str {
    match ty {
        "string" => "\"text\"",
        "integer" => "3",
        "number" => "2.5",
        "boolean" => "true",
        "array" => "[ ... ]",
        "object" => "{ ... }",
        _ => "...",
    }
}

/// Whether the text of a quoted string would be a valid TOML value of JSON Schema type `ty`.
fn quoted_literal_fits(text: &str, ty: &str) -> bool {
    match ty {
        "integer" => text.parse::<i64>().is_ok(),
        "number" => text.parse::<f64>().is_ok_and(f64::is_finite),
        "boolean" => text == "true" || text == "false",
        _ => false,
    }
}

/// Where in the document we are, for messages: `stages.latency`, or "the top level".
fn location(path: &[String]) -> String {
    let keys: Vec<&str> = path
        .iter()
        .map(String::as_str)
        .filter(|k| *k != ELEMENT)
        .collect();
    match path.last() {
        None => "at the top level".to_string(),
        Some(last) if last == ELEMENT => format!("in an element of `{}`", keys.join(".")),
        Some(_) => format!("in `{}`", keys.join(".")),
    }
}

/// Path segment for an element of an array of plain values (`next = ["a", 1]`). Elements that are
/// tables (`[[stages]]`) get none: their keys read better as `stages.kind`.
const ELEMENT: &str = "[]";

/// How a value is written at the end of `path`: `key = value`, or `key = [value]` in an array.
fn written(path: &[String], value: &str) -> String {
    let key = path
        .iter()
        .rev()
        .find(|k| *k != ELEMENT)
        .map_or("key", String::as_str);
    if path.last().is_some_and(|k| k == ELEMENT) {
        format!("`{key} = [{value}]`")
    } else {
        format!("`{key} = {value}`")
    }
}

impl<'s> Checker<'s> {
    /// Follows `$ref` pointers (`#/$defs/Name`) to the schema they name.
    fn resolve(&self, mut schema: &'s Json) -> &'s Json {
        for _ in 0..32 {
            let Some(reference) = schema.get("$ref").and_then(Json::as_str) else {
                return schema;
            };
            let pointer = reference.trim_start_matches('#');
            match self.root.pointer(pointer) {
                Some(target) => schema = target,
                None => return schema,
            }
        }
        schema
    }

    /// String constants of a unit-enum schema (`enum` or `oneOf` of `const`), if it is one.
    fn enum_values(&self, schema: &'s Json) -> Option<Vec<&'s str>> {
        if let Some(values) = schema.get("enum").and_then(Json::as_array) {
            return values.iter().map(Json::as_str).collect();
        }
        let alternatives = schema
            .get("oneOf")
            .or_else(|| schema.get("anyOf"))
            .and_then(Json::as_array)?;
        let mut out = Vec::new();
        for alt in alternatives {
            let alt = self.resolve(alt);
            if let Some(c) = alt.get("const").and_then(Json::as_str) {
                out.push(c);
            } else if let Some(values) = alt.get("enum").and_then(Json::as_array) {
                out.extend(values.iter().filter_map(Json::as_str));
            } else {
                return None;
            }
        }
        Some(out)
    }

    fn check_value(
        &self,
        value: &Spanned<DeValue<'_>>,
        schema: &'s Json,
        path: &mut Vec<String>,
        out: &mut Vec<Diagnostic>,
    ) {
        let schema = self.resolve(schema);
        if schema == &Json::Bool(true) {
            return;
        }
        if let Some(values) = self.enum_values(schema) {
            self.check_enum(value, &values, path, out);
            return;
        }
        if let Some(alternatives) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Json::as_array)
        {
            // `Option<T>`: TOML has no null, so the non-null alternative is the one to check.
            let non_null: Vec<&Json> = alternatives
                .iter()
                .filter(|alt| alt.get("type").and_then(Json::as_str) != Some("null"))
                .collect();
            if let [only] = non_null.as_slice() {
                self.check_value(value, only, path, out);
            }
            return;
        }
        if !self.check_type(value, schema, path, out) {
            return;
        }
        match value.get_ref() {
            DeValue::Table(table) => self.check_table(table, value.span(), schema, path, out),
            DeValue::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for item in items.iter() {
                        let element = !matches!(item.get_ref(), DeValue::Table(_));
                        if element {
                            path.push(ELEMENT.to_string());
                        }
                        self.check_value(item, item_schema, path, out);
                        if element {
                            path.pop();
                        }
                    }
                }
            }
            DeValue::Integer(integer) => {
                let reported = out.len();
                self.check_integer_range(value, integer, schema, path, out);
                // One error per value: the type's own range first, then the key's bound.
                if out.len() == reported
                    && let Ok(number) = i128::from_str_radix(integer.as_str(), integer.radix())
                {
                    check_bounds(value, number as f64, integer.as_str(), schema, path, out);
                }
            }
            DeValue::Float(float) => match float.as_str().replace('_', "").parse::<f64>() {
                Ok(number) if number.is_finite() => {
                    check_bounds(value, number, float.as_str(), schema, path, out)
                }
                _ => out.push(Diagnostic::new(
                    value.span(),
                    format!(
                        "{} is not a number the engine can run with {}",
                        float.as_str(),
                        location(path)
                    ),
                    bounds_help(schema).unwrap_or_else(|| "use a finite number".to_string()),
                )),
            },
            _ => {}
        }
    }

    fn check_enum(
        &self,
        value: &Spanned<DeValue<'_>>,
        values: &[&str],
        path: &[String],
        out: &mut Vec<Diagnostic>,
    ) {
        let choices = values
            .iter()
            .map(|v| format!("\"{v}\""))
            .collect::<Vec<_>>()
            .join(", ");
        match value.get_ref().as_str() {
            Some(text) if values.contains(&text) => {}
            Some(text) => out.push(Diagnostic::new(
                value.span(),
                format!("`{text}` is not a valid value {}", location(path)),
                match super::diagnostic::did_you_mean(text, values.iter().copied()) {
                    // A long list would bury the likely fix.
                    Some(best) if values.len() > 6 => format!("did you mean \"{best}\"?"),
                    Some(best) => format!("did you mean \"{best}\"? (one of {choices})"),
                    None => format!("expected one of {choices}"),
                },
            )),
            None => out.push(Diagnostic::new(
                value.span(),
                format!(
                    "expected a string {}, found {}",
                    location(path),
                    toml_type_name(value.get_ref())
                ),
                format!("write one of {choices}, in quotes"),
            )),
        }
    }

    /// Checks the `type` keyword; false if the value has the wrong type (already reported).
    fn check_type(
        &self,
        value: &Spanned<DeValue<'_>>,
        schema: &Json,
        path: &[String],
        out: &mut Vec<Diagnostic>,
    ) -> bool {
        let allowed: Vec<&str> = match schema.get("type") {
            Some(Json::String(ty)) => vec![ty.as_str()],
            Some(Json::Array(types)) => types
                .iter()
                .filter_map(Json::as_str)
                .filter(|t| *t != "null")
                .collect(),
            _ => return true,
        };
        let actual = json_types(value.get_ref());
        if allowed.iter().any(|ty| actual.contains(ty)) {
            return true;
        }
        let expected = allowed.first().copied().unwrap_or("value");
        out.push(Diagnostic::new(
            value.span(),
            format!(
                "expected {} {}, found {}",
                describe_type(expected),
                location(path),
                toml_type_name(value.get_ref())
            ),
            match value.get_ref() {
                // `concurrency = "2"`: the value is right, the quotes are not.
                DeValue::String(text) if quoted_literal_fits(text.trim(), expected) => {
                    format!("remove the quotes: {}", written(path, text.trim()))
                }
                // `title = 2026-05-01`: TOML reads a bare date as a date-time.
                DeValue::Datetime(datetime) if expected == "string" => {
                    format!(
                        "put it in quotes: {}",
                        written(path, &format!("\"{datetime}\""))
                    )
                }
                _ => format!("write it like {}", written(path, example_of(expected))),
            },
        ));
        false
    }

    fn check_integer_range(
        &self,
        value: &Spanned<DeValue<'_>>,
        integer: &toml::de::DeInteger<'_>,
        schema: &Json,
        path: &[String],
        out: &mut Vec<Diagnostic>,
    ) {
        let Ok(number) = i128::from_str_radix(integer.as_str(), integer.radix()) else {
            return;
        };
        let (min, max): (i128, i128) = match schema.get("format").and_then(Json::as_str) {
            Some("uint8") => (0, u8::MAX.into()),
            Some("uint16") => (0, u16::MAX.into()),
            Some("uint32") => (0, u32::MAX.into()),
            Some("uint64") | Some("uint") => (0, u64::MAX.into()),
            _ => (i64::MIN.into(), i64::MAX.into()),
        };
        if number < 0 && min == 0 {
            out.push(Diagnostic::new(
                value.span(),
                format!(
                    "the value {} cannot be negative, found {number}",
                    location(path)
                ),
                format!("use a whole number from 0 to {max}"),
            ));
        } else if number < min || number > max {
            out.push(Diagnostic::new(
                value.span(),
                format!("{number} is out of range {}", location(path)),
                format!("use a whole number from {min} to {max}"),
            ));
        }
    }

    fn check_table(
        &self,
        table: &DeTable<'_>,
        span: std::ops::Range<usize>,
        schema: &'s Json,
        path: &mut Vec<String>,
        out: &mut Vec<Diagnostic>,
    ) {
        let schema = self.resolve(schema);
        let properties = schema.get("properties").and_then(Json::as_object);
        let additional = schema.get("additionalProperties");
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            path.push(name.to_string());
            match properties.and_then(|p| p.get(name)) {
                Some(property) => self.check_value(value, property, path, out),
                None => match additional {
                    Some(Json::Bool(false)) => {
                        let known: Vec<&str> = properties
                            .map(|p| p.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        path.pop();
                        out.push(Diagnostic::new(
                            key.span(),
                            format!("unknown key `{name}` {}", location(path)),
                            unknown_name_help("key", name, known.iter().copied()),
                        ));
                        path.push(name.to_string());
                    }
                    Some(item_schema @ Json::Object(_)) => {
                        self.check_value(value, item_schema, path, out)
                    }
                    _ => {}
                },
            }
            path.pop();
        }
        if let Some(required) = schema.get("required").and_then(Json::as_array) {
            for name in required.iter().filter_map(Json::as_str) {
                if table.get(name).is_none() {
                    let property = properties.and_then(|p| p.get(name));
                    // Doc comments sit on the field (`property`) or, for a struct, on its type.
                    let description = property
                        .and_then(|p| {
                            p.get("description")
                                .or_else(|| self.resolve(p).get("description"))
                        })
                        .and_then(Json::as_str)
                        .unwrap_or("")
                        .trim_end_matches('.');
                    let is_section = property
                        .map(|p| self.resolve(p))
                        .and_then(|p| p.get("type"))
                        .and_then(Json::as_str)
                        == Some("object");
                    let add = if is_section && path.is_empty() {
                        format!("add the `[{name}]` section")
                    } else {
                        format!("add `{name} = ...`")
                    };
                    let help = if description.is_empty() {
                        add
                    } else {
                        format!("{add} ({})", first_sentence(description))
                    };
                    out.push(Diagnostic::new(
                        span.start..span.start,
                        format!("missing key `{name}` {}", location(path)),
                        help,
                    ));
                }
            }
        }
    }
}

fn first_sentence(text: &str) -> String {
    // Lower-case "Title" to "title", but keep acronyms: "SQL type" stays "SQL type".
    let lower_first = |s: &str| {
        let mut chars = s.chars();
        match (chars.next(), chars.clone().next()) {
            (Some(c), second) if !second.is_some_and(char::is_uppercase) => {
                c.to_lowercase().chain(chars).collect()
            }
            _ => s.to_string(),
        }
    };
    // A sentence ends at ". " before a capital letter, so "e.g. `admin`" stays whole.
    let end = text
        .match_indices(". ")
        .map(|(at, _)| at)
        .find(|&at| text[at + 2..].starts_with(|c: char| c.is_uppercase()))
        .unwrap_or(text.len());
    lower_first(text[..end].trim_end_matches('.'))
}

/// The `minimum`/`maximum` the schema gives a number, if any.
fn bounds(schema: &Json) -> (Option<f64>, Option<f64>) {
    (
        schema.get("minimum").and_then(Json::as_f64),
        schema.get("maximum").and_then(Json::as_f64),
    )
}

/// How to write a number within the schema's bounds, e.g. `use a number from 0 to 31536000`.
fn bounds_help(schema: &Json) -> Option<String> {
    match bounds(schema) {
        (Some(min), Some(max)) => Some(format!("use a number from {min} to {max}")),
        (None, Some(max)) => Some(format!("use a number up to {max}")),
        (Some(min), None) => Some(format!("use a number of at least {min}")),
        (None, None) => None,
    }
}

/// Reports a number outside the documented bounds of its key: every duration, rate and count
/// has an upper bound the engine can run with (a TTL of 1e300 s cannot be added to a clock).
fn check_bounds(
    value: &Spanned<DeValue<'_>>,
    number: f64,
    written: &str,
    schema: &Json,
    path: &[String],
    out: &mut Vec<Diagnostic>,
) {
    let (min, max) = bounds(schema);
    let below = min.is_some_and(|min| number < min);
    let above = max.is_some_and(|max| number > max);
    if below || above {
        out.push(Diagnostic::new(
            value.span(),
            format!(
                "{written} is {} {}",
                if above { "too large" } else { "too small" },
                location(path)
            ),
            bounds_help(schema).unwrap_or_default(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sentence_keeps_abbreviations() {
        assert_eq!(
            first_sentence("Role name, e.g. `admin`."),
            "role name, e.g. `admin`"
        );
        assert_eq!(first_sentence("Title shown. More text."), "title shown");
        assert_eq!(first_sentence("SQL type."), "SQL type");
        assert_eq!(first_sentence("HTTP method."), "HTTP method");
        assert_eq!(first_sentence("A paragraph."), "a paragraph");
    }

    #[test]
    fn quoted_values_that_would_fit_unquoted_are_recognised() {
        assert!(quoted_literal_fits("2", "integer"));
        assert!(quoted_literal_fits("2.5", "number"));
        assert!(quoted_literal_fits("true", "boolean"));
        assert!(!quoted_literal_fits("two", "integer"));
        assert!(!quoted_literal_fits("nan", "number"));
    }
}
