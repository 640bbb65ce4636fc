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
    checker.check_table(document.get_ref(), document.span(), schema, &mut Vec::new(), out);
}

struct Checker<'s> {
    root: &'s Json,
}

/// The JSON Schema type names a TOML value satisfies.
fn json_types(value: &DeValue<'_>) -> &'static [&'static str] {
    match value {
        DeValue::String(_) | DeValue::Datetime(_) => &["string"],
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
        "string" => "key = \"text\"",
        "integer" => "key = 3",
        "number" => "key = 2.5",
        "boolean" => "key = true",
        "array" => "key = [ ... ]",
        "object" => "key = { ... }",
        _ => "key = ...",
    }
}

/// Where in the document we are, for messages: `stages.latency`, or "the top level".
fn location(path: &[String]) -> String {
    if path.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `{}`", path.join("."))
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
        if let Some(alternatives) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Json::as_array) {
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
                        self.check_value(item, item_schema, path, out);
                    }
                }
            }
            DeValue::Integer(integer) => self.check_integer_range(value, integer, schema, path, out),
            _ => {}
        }
    }

    fn check_enum(&self, value: &Spanned<DeValue<'_>>, values: &[&str], path: &[String], out: &mut Vec<Diagnostic>) {
        let choices = values.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", ");
        match value.get_ref().as_str() {
            Some(text) if values.contains(&text) => {}
            Some(text) => out.push(Diagnostic::new(
                value.span(),
                format!("`{text}` is not a valid value {}", location(path)),
                match super::diagnostic::did_you_mean(text, values.iter().copied()) {
                    Some(best) => format!("did you mean \"{best}\"? (one of {choices})"),
                    None => format!("expected one of {choices}"),
                },
            )),
            None => out.push(Diagnostic::new(
                value.span(),
                format!("expected a string {}, found {}", location(path), toml_type_name(value.get_ref())),
                format!("write one of {choices}, in quotes"),
            )),
        }
    }

    /// Checks the `type` keyword; false if the value has the wrong type (already reported).
    fn check_type(&self, value: &Spanned<DeValue<'_>>, schema: &Json, path: &[String], out: &mut Vec<Diagnostic>) -> bool {
        let allowed: Vec<&str> = match schema.get("type") {
            Some(Json::String(ty)) => vec![ty.as_str()],
            Some(Json::Array(types)) => types.iter().filter_map(Json::as_str).filter(|t| *t != "null").collect(),
            _ => return true,
        };
        let actual = json_types(value.get_ref());
        if allowed.iter().any(|ty| actual.contains(ty)) {
            return true;
        }
        let expected = allowed.first().copied().unwrap_or("value");
        let key = path.last().map(String::as_str).unwrap_or("key");
        out.push(Diagnostic::new(
            value.span(),
            format!(
                "expected {} {}, found {}",
                describe_type(expected),
                location(path),
                toml_type_name(value.get_ref())
            ),
            format!("write it like `{}`", example_of(expected).replacen("key", key, 1)),
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
        if number < min || number > max {
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
                        let known: Vec<&str> = properties.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                        path.pop();
                        out.push(Diagnostic::new(
                            key.span(),
                            format!("unknown key `{name}` {}", location(path)),
                            unknown_name_help("key", name, known.iter().copied()),
                        ));
                        path.push(name.to_string());
                    }
                    Some(item_schema @ Json::Object(_)) => self.check_value(value, item_schema, path, out),
                    _ => {}
                },
            }
            path.pop();
        }
        if let Some(required) = schema.get("required").and_then(Json::as_array) {
            for name in required.iter().filter_map(Json::as_str) {
                if table.get(name).is_none() {
                    let description = properties
                        .and_then(|p| p.get(name))
                        .map(|p| self.resolve(p))
                        .and_then(|p| p.get("description"))
                        .and_then(Json::as_str)
                        .unwrap_or("")
                        .trim_end_matches('.');
                    let help = if description.is_empty() {
                        format!("add `{name} = ...`")
                    } else {
                        format!("add `{name} = ...` ({})", first_sentence(description))
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
    let lower_first = |s: &str| {
        let mut chars = s.chars();
        match chars.next() {
            Some(c) => c.to_lowercase().chain(chars).collect(),
            None => String::new(),
        }
    };
    lower_first(text.split(". ").next().unwrap_or(text).trim_end_matches('.'))
}
