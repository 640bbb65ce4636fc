//! Diagrams as text: the stage graph and the schema, in Mermaid or Graphviz (DOT).
//!
//! Output is deterministic (file order) so it can be committed and diffed. Identifiers are
//! quoted or sanitised so that any valid scenario yields a diagram the tools accept.

use std::fmt::Write;

use crate::scenario::{Scenario, Table};
use crate::topology::{EdgeKind, Topology};

/// Which diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiagramView {
    /// The request stage graph.
    Lifecycle,
    /// The database schema.
    Erd,
}

/// Which diagram language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiagramFormat {
    /// Mermaid (`flowchart` / `erDiagram`).
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// Renders `view` of `scenario` in `format`.
pub fn export(scenario: &Scenario, view: DiagramView, format: DiagramFormat) -> String {
    match (view, format) {
        (DiagramView::Lifecycle, DiagramFormat::Mermaid) => lifecycle_mermaid(scenario),
        (DiagramView::Lifecycle, DiagramFormat::Dot) => lifecycle_dot(scenario),
        (DiagramView::Erd, DiagramFormat::Mermaid) => erd_mermaid(scenario),
        (DiagramView::Erd, DiagramFormat::Dot) => erd_dot(scenario),
    }
}

/// A Mermaid node id: letters, digits and `_` only.
fn mermaid_id(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Text inside a Mermaid `"..."` label.
fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
}

/// Text inside a DOT `"..."` string.
fn dot_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Text inside a DOT record label field (braces, bars and angle brackets are syntax there).
fn record_text(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if matches!(c, '{' | '}' | '|' | '<' | '>' | '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn lifecycle_mermaid(scenario: &Scenario) -> String {
    let topology = Topology::new(scenario);
    let mut out = format!(
        "---\ntitle: {} — request lifecycle\n---\nflowchart LR\n",
        mermaid_text(&scenario.meta.title)
    );
    for stage in topology.order() {
        let _ = writeln!(
            out,
            "    {}[\"{}<br/><small>{}</small>\"]",
            mermaid_id(&stage.id),
            mermaid_text(&stage.title),
            stage.kind.as_str()
        );
    }
    for (from, to, kind) in topology.edges() {
        let arrow = match kind {
            EdgeKind::Next => "-->".to_string(),
            EdgeKind::Hit => "-. hit .->".to_string(),
        };
        let _ = writeln!(out, "    {} {arrow} {}", mermaid_id(from), mermaid_id(to));
    }
    out
}

fn lifecycle_dot(scenario: &Scenario) -> String {
    let topology = Topology::new(scenario);
    let mut out = String::from("digraph lifecycle {\n");
    let _ = writeln!(
        out,
        "    label=\"{} — request lifecycle\";",
        dot_text(&scenario.meta.title)
    );
    out.push_str("    labelloc=t;\n    rankdir=LR;\n    node [shape=box, style=rounded, fontname=\"Helvetica\"];\n    edge [fontname=\"Helvetica\"];\n");
    for stage in topology.order() {
        let latency = stage
            .latency
            .map(|l| format!("\\n{}", dot_text(&l.describe())))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    \"{}\" [label=\"{}\\n({}){latency}\"];",
            dot_text(&stage.id),
            dot_text(&stage.title),
            stage.kind.as_str()
        );
    }
    for (from, to, kind) in topology.edges() {
        let style = match kind {
            EdgeKind::Next => "",
            EdgeKind::Hit => " [style=dashed, label=\"hit\"]",
        };
        let _ = writeln!(
            out,
            "    \"{}\" -> \"{}\"{style};",
            dot_text(from),
            dot_text(to)
        );
    }
    out.push_str("}\n");
    out
}

/// Key markers of a column: PK, FK, UK.
fn key_markers(table: &Table, column: &crate::scenario::Column) -> Vec<&'static str> {
    let mut keys = Vec::new();
    if column.primary_key {
        keys.push("PK");
    }
    if column.references.is_some() {
        keys.push("FK");
    }
    let unique_index = table
        .indexes
        .iter()
        .any(|i| i.unique && i.columns.len() == 1 && i.columns[0] == column.name);
    if column.unique || unique_index {
        keys.push("UK");
    }
    keys
}

fn erd_mermaid(scenario: &Scenario) -> String {
    let mut out = format!(
        "---\ntitle: {} — schema\n---\nerDiagram\n",
        mermaid_text(&scenario.meta.title)
    );
    for table in &scenario.tables {
        let _ = writeln!(out, "    {} {{", mermaid_id(&table.name));
        for column in &table.columns {
            let keys = key_markers(table, column);
            let keys = if keys.is_empty() {
                String::new()
            } else {
                format!(" {}", keys.join(", "))
            };
            let note = if column.nullable { " \"nullable\"" } else { "" };
            let _ = writeln!(
                out,
                "        {} {}{keys}{note}",
                column.ty.as_str(),
                mermaid_id(&column.name)
            );
        }
        out.push_str("    }\n");
    }
    for table in &scenario.tables {
        for column in &table.columns {
            let Some(fk) = &column.references else {
                continue;
            };
            // parent ||--o{ child: one parent row, zero or more children (|o when the FK is optional).
            let parent_side = if column.nullable { "|o" } else { "||" };
            let _ = writeln!(
                out,
                "    {} {parent_side}--o{{ {} : \"{}\"",
                mermaid_id(&fk.table),
                mermaid_id(&table.name),
                mermaid_text(&column.name)
            );
        }
    }
    out
}

fn erd_dot(scenario: &Scenario) -> String {
    let mut out = String::from("digraph erd {\n");
    let _ = writeln!(
        out,
        "    label=\"{} — schema\";",
        dot_text(&scenario.meta.title)
    );
    out.push_str("    labelloc=t;\n    rankdir=LR;\n    node [shape=record, fontname=\"Helvetica\"];\n    edge [dir=both, arrowtail=crow, arrowhead=tee];\n");
    for table in &scenario.tables {
        let mut fields = Vec::new();
        for column in &table.columns {
            let keys = key_markers(table, column);
            let mut text = format!("{} : {}", column.name, column.ty.as_str());
            if !keys.is_empty() {
                text.push_str(&format!(" [{}]", keys.join(",")));
            }
            if column.nullable {
                text.push('?');
            }
            fields.push(format!(
                "<{}> {}\\l",
                record_text(&column.name),
                record_text(&text)
            ));
        }
        let scope = if table.tenant_scoped {
            " (per tenant)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "    \"{}\" [label=\"{}{}|{}\"];",
            dot_text(&table.name),
            record_text(&table.name),
            record_text(scope),
            fields.join("|")
        );
    }
    for table in &scenario.tables {
        for column in &table.columns {
            let Some(fk) = &column.references else {
                continue;
            };
            let style = if column.nullable {
                " [style=dashed]"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    \"{}\":\"{}\" -> \"{}\":\"{}\"{style};",
                dot_text(&table.name),
                dot_text(&column.name),
                dot_text(&fk.table),
                dot_text(&fk.column),
            );
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{DEFAULT_SCENARIO, load_str};

    fn scenario() -> Scenario {
        load_str("saas.toml", DEFAULT_SCENARIO).expect("default scenario is valid")
    }

    #[test]
    fn lifecycle_mermaid_has_every_stage_and_the_hit_short_cuts() {
        let s = scenario();
        let text = export(&s, DiagramView::Lifecycle, DiagramFormat::Mermaid);
        assert!(text.contains("flowchart LR"));
        for stage in &s.stages {
            assert!(
                text.contains(&format!("    {}[", mermaid_id(&stage.id))),
                "missing {}",
                stage.id
            );
        }
        assert!(text.contains("-. hit .->"));
    }

    #[test]
    fn erd_dot_has_a_record_per_table_and_an_edge_per_foreign_key() {
        let s = scenario();
        let text = export(&s, DiagramView::Erd, DiagramFormat::Dot);
        let records = text.lines().filter(|l| l.contains("[label=\"")).count();
        assert_eq!(records, s.tables.len());
        let fks: usize = s
            .tables
            .iter()
            .map(|t| t.columns.iter().filter(|c| c.references.is_some()).count())
            .sum();
        assert_eq!(text.lines().filter(|l| l.contains(" -> ")).count(), fks);
    }

    #[test]
    fn record_labels_escape_their_syntax() {
        assert_eq!(record_text("a|b{c}<d>"), "a\\|b\\{c\\}\\<d\\>");
    }
}
