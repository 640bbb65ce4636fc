//! Guided tours: each step's view moves, the actions it takes on the running system, how long
//! it waits, and what it expects — checked against the scenario's names so `tour --check` and
//! the TUI never meet a step they cannot play.

use super::conditions::parse_condition;
use super::requests::{positive, validate_fault};
use super::{Cx, secs};
use crate::scenario::diagnostic::unknown_name_help;
use crate::scenario::model::*;
use crate::scenario::raw::{
    ActionKind, FaultKind, RawExpect, RawFault, RawTour, RawTourAction, RawTourStep,
};
use crate::scenario::span::Sp;

/// The longest a step may wait, in engine seconds: a day is far past any lesson, and keeps a
/// typo (`wait_s = 1e9`) from hanging `tour --check`.
const MAX_WAIT_S: f64 = 86_400.0;
/// How long `until` waits when `within_s` is left out, in engine seconds.
const DEFAULT_WITHIN_S: f64 = 600.0;
/// The most times one action may send a request or add workers.
const MAX_COUNT: u32 = 1_000;

pub(crate) fn validate_tours(
    cx: &mut Cx,
    raw: &[RawTour],
    tables: &[Table],
    workers: &[WorkerPool],
    topics: &[Topic],
) -> Vec<Tour> {
    let mut tours = Vec::new();
    for tour in raw {
        cx.declare("tour", &tour.id);
        if tour.steps.is_empty() {
            cx.error(
                tour.id.span(),
                format!("tour `{}` has no steps", tour.id),
                "add `[[tours.steps]]` entries",
            );
        }
        let steps = tour
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| {
                let who = format!("tour `{}` step {}", tour.id, index + 1);
                validate_step(cx, step, &who, tables, workers, topics)
            })
            .collect();
        tours.push(Tour {
            id: tour.id.get().clone(),
            title: tour.title.clone(),
            steps,
        });
    }
    tours
}

fn validate_step(
    cx: &mut Cx,
    step: &RawTourStep,
    who: &str,
    tables: &[Table],
    workers: &[WorkerPool],
    topics: &[Topic],
) -> TourStep {
    let view = *step.view;
    let fields: [(&str, &Option<Sp<String>>, &'static str, bool); 4] = [
        ("request", &step.request, "request", view == View::Lifecycle),
        ("stage", &step.stage, "stage", view == View::Lifecycle),
        ("table", &step.table, "table", view == View::Erd),
        ("topic", &step.topic, "topic", view == View::Broker),
    ];
    for (key, value, namespace, applies) in fields {
        let Some(value) = value else { continue };
        if applies {
            cx.expect_declared(namespace, value, who);
        } else {
            cx.error(
                value.span(),
                format!("{who}: `{key}` does not apply to this view"),
                "remove it, or change `view`",
            );
        }
    }
    check_erd_fields(cx, step, who, tables);
    TourStep {
        view,
        column: step.column.as_ref().map(|c| c.get().clone()),
        follow: step.follow.as_ref().is_some_and(|f| **f),
        row: step.row.as_ref().map(|r| **r),
        request: step.request.as_ref().map(|r| r.get().clone()),
        stage: step.stage.as_ref().map(|r| r.get().clone()),
        table: step.table.as_ref().map(|r| r.get().clone()),
        topic: step.topic.as_ref().map(|r| r.get().clone()),
        say: step.say.clone(),
        actions: step
            .actions
            .iter()
            .filter_map(|action| validate_action(cx, action, who, workers, topics))
            .collect(),
        wait: validate_wait(cx, step, who),
        expect: step
            .expect
            .as_ref()
            .map(|expect| validate_expect(cx, who, step, expect)),
        at: step.view.span(),
    }
}

/// `column`, `follow` and `row` belong to a schema step with a `table`; the column must be one
/// of its columns, and one with a foreign key to follow.
fn check_erd_fields(cx: &mut Cx, step: &RawTourStep, who: &str, tables: &[Table]) {
    let spans = [
        ("column", step.column.as_ref().map(Sp::span)),
        ("follow", step.follow.as_ref().map(Sp::span)),
        ("row", step.row.as_ref().map(Sp::span)),
    ];
    let applies = *step.view == View::Erd && step.table.is_some();
    for (key, span) in spans {
        if let (Some(span), false) = (span, applies) {
            cx.error(
                span,
                format!("{who}: `{key}` needs a schema step with a `table`"),
                "set `view = \"erd\"` and `table = \"…\"`, or remove it",
            );
        }
    }
    if let Some(row) = step.row.as_ref().filter(|r| ***r == 0) {
        cx.error(
            row.span(),
            format!("{who}: `row` counts from 1"),
            "use 1 for the first row",
        );
    }
    let follow = step.follow.as_ref().filter(|f| ***f);
    let Some(table) = step
        .table
        .as_ref()
        .filter(|_| applies)
        .and_then(|t| tables.iter().find(|table| table.name == **t))
    else {
        return;
    };
    let Some(column) = &step.column else {
        if let Some(follow) = follow {
            cx.error(
                follow.span(),
                format!("{who}: `follow` needs the `column` whose key to follow"),
                "add `column = \"…\"`",
            );
        }
        return;
    };
    match table.columns.iter().find(|c| c.name == **column) {
        None => cx.error(
            column.span(),
            format!("{who}: table `{}` has no column `{column}`", table.name),
            unknown_name_help(
                "column",
                column,
                table.columns.iter().map(|c| c.name.as_str()),
            ),
        ),
        Some(found) if follow.is_some() && found.references.is_none() => cx.error(
            column.span(),
            format!(
                "{who}: `{}.{column}` has no foreign key to follow",
                table.name
            ),
            "pick a column with `references`, or remove `follow`",
        ),
        Some(_) => {}
    }
}

/// `wait_s`, or `until` with its `within_s`.
fn validate_wait(cx: &mut Cx, step: &RawTourStep, who: &str) -> Option<Wait> {
    let bounded = |cx: &mut Cx, value: &Sp<f64>, what: &str| {
        positive(cx, value, what, "engine seconds, e.g. 30");
        if **value > MAX_WAIT_S {
            cx.error(
                value.span(),
                format!("{what} of {value} s is longer than a day of engine time"),
                format!("use at most {MAX_WAIT_S} s"),
            );
        }
    };
    if let (Some(_), Some(until)) = (&step.wait_s, &step.until) {
        cx.error(
            until.span(),
            format!("{who}: `wait_s` and `until` both say how long to wait"),
            "keep one: `wait_s` for a fixed time, `until` to wait for a condition",
        );
        return None;
    }
    if let (Some(within), None) = (&step.within_s, &step.until) {
        cx.error(
            within.span(),
            format!("{who}: `within_s` bounds an `until` the step does not have"),
            "add `until = \"…\"`, or remove `within_s`",
        );
    }
    if let Some(wait) = &step.wait_s {
        bounded(cx, wait, "`wait_s`");
        return Some(Wait::For(secs(**wait)));
    }
    let until = step.until.as_ref()?;
    if let Some(within) = &step.within_s {
        bounded(cx, within, "`within_s`");
    }
    let condition = parse_condition(cx, until, who)?;
    Some(Wait::Until {
        condition,
        within: secs(step.within_s.as_ref().map_or(DEFAULT_WITHIN_S, |w| **w)),
    })
}

/// A status and an outcome need a request to look at, an outcome a stage, and every condition
/// a real figure.
fn validate_expect(cx: &mut Cx, who: &str, step: &RawTourStep, expect: &RawExpect) -> Expect {
    let at = step.view.span();
    if step.request.is_none() && (expect.status.is_some() || expect.outcome.is_some()) {
        cx.error(
            at.clone(),
            format!("{who}: `expect.status` and `expect.outcome` need a request, and the step sends none"),
            "add `request = \"…\"` (a lifecycle step), or expect figures with `that = [\"…\"]`",
        );
    }
    if let Some(status) = &expect.status
        && !(100..=599).contains(status.get())
    {
        cx.error(
            status.span(),
            format!("{who}: `expect.status` {status} is not an HTTP status"),
            "use a status between 100 and 599, e.g. 404",
        );
    }
    if let Some(outcome) = &expect.outcome {
        if !STAGE_OUTCOMES.contains(&outcome.get().as_str()) {
            cx.error(
                outcome.span(),
                format!("{who}: `expect.outcome` `{outcome}` is not a stage outcome"),
                format!("use one of {}", STAGE_OUTCOMES.join(", ")),
            );
        }
        if step.stage.is_none() {
            cx.error(
                outcome.span(),
                format!("{who}: `expect.outcome` needs the step's `stage`"),
                "add `stage = \"…\"`: the outcome is the one at that stage",
            );
        }
    }
    Expect {
        status: expect.status.as_ref().map(|v| *v.get()),
        outcome: expect.outcome.as_ref().map(|v| v.get().clone()),
        that: expect
            .that
            .iter()
            .filter_map(|text| parse_condition(cx, text, who))
            .collect(),
    }
}

/// The fault an action kind applies, if it is one.
fn fault_kind(kind: ActionKind) -> Option<FaultKind> {
    use ActionKind as A;
    Some(match kind {
        A::KillWorkers => FaultKind::KillWorkers,
        A::SlowWorkers => FaultKind::SlowWorkers,
        A::SlowDatabase => FaultKind::SlowDatabase,
        A::FlushCache => FaultKind::FlushCache,
        A::TrafficSpike => FaultKind::TrafficSpike,
        A::PoisonMessage => FaultKind::PoisonMessage,
        A::PauseTopic => FaultKind::PauseTopic,
        A::Redrive => FaultKind::Redrive,
        A::SetRate | A::TimeScale | A::AddWorkers | A::RetireWorkers | A::Send => return None,
    })
}

fn validate_action(
    cx: &mut Cx,
    action: &RawTourAction,
    who: &str,
    workers: &[WorkerPool],
    topics: &[Topic],
) -> Option<TourAction> {
    let kind = *action.action;
    let name = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let who = format!("{who}, action `{name}`");
    if let Some(fault) = fault_kind(kind) {
        // A fault is checked exactly as a scheduled one is: the same fields, the same rules.
        not_for(cx, &action.scale, "scale", &who);
        not_for(cx, &action.request, "request", &who);
        let raw = RawFault {
            at_s: Sp::new(0.0, action.action.span()),
            kind: Sp::new(fault, action.action.span()),
            duration_s: action.duration_s.clone(),
            pool: action.pool.clone(),
            topic: action.topic.clone(),
            count: action.count.clone(),
            extra_ms: action.extra_ms.clone(),
            multiplier: action.multiplier.clone(),
        };
        let fault = validate_fault(cx, &raw, &who, workers, topics);
        return Some(TourAction::Fault {
            fault,
            duration: action.duration_s.as_ref().map(|d| secs(**d)),
        });
    }
    use ActionKind as A;
    let uses = |field: &str| match field {
        "multiplier" => kind == A::SetRate,
        "scale" => kind == A::TimeScale,
        "pool" => matches!(kind, A::AddWorkers | A::RetireWorkers),
        "count" => matches!(kind, A::AddWorkers | A::RetireWorkers | A::Send),
        "request" => kind == A::Send,
        _ => false,
    };
    for (field, present) in [
        ("multiplier", action.multiplier.as_ref().map(Sp::span)),
        ("scale", action.scale.as_ref().map(Sp::span)),
        ("pool", action.pool.as_ref().map(Sp::span)),
        ("count", action.count.as_ref().map(Sp::span)),
        ("topic", action.topic.as_ref().map(Sp::span)),
        ("request", action.request.as_ref().map(Sp::span)),
        ("extra_ms", action.extra_ms.as_ref().map(Sp::span)),
        ("duration_s", action.duration_s.as_ref().map(Sp::span)),
    ] {
        if let Some(span) = present
            && !uses(field)
        {
            cx.error(
                span,
                format!("{who}: `{field}` does not apply"),
                "remove it",
            );
        }
    }
    let count = action.count.as_ref().map_or(1, |c| **c);
    if let Some(c) = &action.count
        && !(1..=MAX_COUNT).contains(c.get())
    {
        cx.error(
            c.span(),
            format!("{who}: `count` must be from 1 to {MAX_COUNT}, not {c}"),
            "leave it out for one",
        );
    }
    let needed = |cx: &mut Cx, field: &str| {
        cx.error(
            action.action.span(),
            format!("{who} needs `{field}`"),
            format!("add `{field} = …` to the action"),
        );
    };
    match kind {
        A::SetRate => {
            let Some(multiplier) = &action.multiplier else {
                needed(cx, "multiplier");
                return None;
            };
            if !(multiplier.is_finite() && (0.0..=100.0).contains(multiplier.get())) {
                cx.error(
                    multiplier.span(),
                    format!("{who}: `multiplier` must be from 0 to 100, not {multiplier}"),
                    "0 stops generated traffic, 1 is the scenario's rate, 3 three times it",
                );
            }
            Some(TourAction::SetRate {
                multiplier: **multiplier,
            })
        }
        A::TimeScale => {
            let Some(scale) = &action.scale else {
                needed(cx, "scale");
                return None;
            };
            if !(scale.is_finite() && (0.125..=64.0).contains(scale.get())) {
                cx.error(
                    scale.span(),
                    format!("{who}: `scale` must be from 0.125 to 64, not {scale}"),
                    "engine seconds per wall second: 1 is real time, 8 eight times faster",
                );
            }
            Some(TourAction::TimeScale { scale: **scale })
        }
        A::AddWorkers | A::RetireWorkers => {
            let Some(pool) = &action.pool else {
                needed(cx, "pool");
                return None;
            };
            cx.expect_declared("worker pool", pool, &who);
            let pool = pool.get().clone();
            Some(if kind == A::AddWorkers {
                TourAction::AddWorkers { pool, count }
            } else {
                TourAction::RetireWorkers { pool, count }
            })
        }
        A::Send => {
            let Some(request) = &action.request else {
                needed(cx, "request");
                return None;
            };
            cx.expect_declared("request", request, &who);
            Some(TourAction::Send {
                request: request.get().clone(),
                count,
            })
        }
        _ => None,
    }
}

/// Reports `field` when present: it does not apply to this action.
fn not_for<T>(cx: &mut Cx, field: &Option<Sp<T>>, name: &str, who: &str) {
    if let Some(value) = field {
        cx.error(
            value.span(),
            format!("{who}: `{name}` does not apply"),
            "remove it",
        );
    }
}
