//! Parsing tour conditions (`payments.queued > 100`) against the scenario's names, so a typo is
//! an error at its line and column with the nearest real name, not a step that never holds.

use super::Cx;
use crate::scenario::diagnostic::unknown_name_help;
use crate::scenario::model::{Comparison, Condition, Metric, SYSTEM_FIGURES, TOPIC_FIGURES};
use crate::scenario::span::Sp;

/// How a condition is written, for help texts.
const FORM: &str = "write `<figure> <op> <number>`, e.g. `payments.queued > 100` or \
                    `time_s >= 90` (op: >, >=, <, <=, ==, !=)";

/// Parses `text` (written at `text.span()`); reports what is wrong and returns `None` if it is
/// not a condition on a real figure. `who` names the step in messages.
pub(super) fn parse_condition(cx: &mut Cx, text: &Sp<String>, who: &str) -> Option<Condition> {
    let Some((at, (symbol, comparison))) = Comparison::ALL
        .iter()
        .filter_map(|op| text.find(op.0).map(|at| (at, *op)))
        .min_by_key(|(at, op)| (*at, std::cmp::Reverse(op.0.len())))
    else {
        cx.error(
            text.span(),
            format!("{who}: `{text}` compares nothing"),
            FORM,
        );
        return None;
    };
    let name = text[..at].trim();
    let number = text[at + symbol.len()..].trim();
    let Ok(value) = number.parse::<f64>() else {
        cx.error(
            text.span(),
            format!("{who}: `{number}` in `{text}` is not a number"),
            FORM,
        );
        return None;
    };
    if !value.is_finite() {
        cx.error(
            text.span(),
            format!("{who}: compare with a finite number, not `{number}`"),
            FORM,
        );
        return None;
    }
    let metric = metric(cx, name, text, who)?;
    Some(Condition {
        metric,
        comparison,
        value,
        name: name.to_string(),
        at: text.span(),
    })
}

/// The figure called `name`, or an error with the nearest real name.
fn metric(cx: &mut Cx, name: &str, text: &Sp<String>, who: &str) -> Option<Metric> {
    if let Some((_, figure)) = SYSTEM_FIGURES.iter().find(|(n, _)| *n == name) {
        return Some(Metric::System(*figure));
    }
    if let Some(status) = name.strip_prefix("requests.")
        && status.len() == 3
        && let Ok(code) = status.parse::<u16>()
    {
        if (100..=599).contains(&code) {
            return Some(Metric::Status(code));
        }
        cx.error(
            text.span(),
            format!("{who}: `{code}` is not an HTTP status"),
            "use a status between 100 and 599, e.g. `requests.429 >= 1`",
        );
        return None;
    }
    if let Some(table) = name.strip_prefix("rows.") {
        let table = Sp::new(table.to_string(), text.span());
        return cx
            .expect_declared("table", &table, who)
            .then(|| Metric::Rows {
                table: table.get().clone(),
            });
    }
    // Topic names may hold dots (`payments.dlq`): the figure is after the last one.
    if let Some((topic, figure)) = name.rsplit_once('.')
        && cx.is_declared("topic", topic)
    {
        if let Some((_, figure)) = TOPIC_FIGURES.iter().find(|(n, _)| *n == figure) {
            return Some(Metric::Topic {
                topic: topic.to_string(),
                figure: *figure,
            });
        }
        cx.error(
            text.span(),
            format!("{who}: topic `{topic}` has no figure `{figure}`"),
            unknown_name_help("figure", figure, TOPIC_FIGURES.iter().map(|(n, _)| *n)),
        );
        return None;
    }
    let topics = cx.declared_names("topic");
    let mut known: Vec<String> = SYSTEM_FIGURES.iter().map(|(n, _)| n.to_string()).collect();
    known.extend(topics.iter().map(|t| format!("{t}.queued")));
    known.push("requests.429".into());
    cx.error(
        text.span(),
        format!("{who}: `{name}` is not a figure the engine shows"),
        format!(
            "{}; a topic's figures are `<topic>.<figure>` ({}), a table's row count `rows.<table>`",
            unknown_name_help("figure", name, known.iter().map(String::as_str)),
            TOPIC_FIGURES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    None
}
