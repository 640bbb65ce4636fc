//! The message flow drawn as boxes and arrows, laid out in the [`Flow`]'s layers, with the
//! engine's live figures in every box and on the arrows.
//!
//! ```text
//!  ┌ API ──────┐   ┌ outbox relay ┐   ┌ payments ──────┐ 7.6/s  ┌ payment-processor ┐ 7.3/s  ┌ webhooks ───┐
//!  │30.0 req/s ├──▶│0 pending     ├──▶│3/500 in 7.6/s  ├───────▶│●●● 78%            ├──┬────▶│2/2000 in 7.3│
//!  └───────────┘   └──────────────┘ │ └─┬──────────────┘        └───────────────────┘  │     └─┬───────────┘
//!                                   │   └▶ payments.dlq 0                              │       └▶ webhooks.dlq 0
//!                                   └────────────────────────────────────────────────▶ …  analytics …
//! ```
//!
//! Columns are the flow's layers; a dead-letter topic that only one topic feeds hangs under that
//! topic (a line, not a column). Each node gets a lane (a row of boxes): the lane of its first
//! predecessor if free, and an arrow that skips columns runs along the target's lane, which is
//! kept free in the columns it crosses. Arrows are drawn as a grid of line directions, so
//! crossings and merges become `┼ ┬ ┴` by themselves.
//!
//! Figures: the API shows responses per second, the outbox what it still holds, a topic its
//! backlog against its capacity and what is published into it per second (all over the last
//! 10 engine seconds), a pool one slot per worker (`●` busy, `◐` backing off, `○` idle, `✗`
//! crashed) and how busy it was. The arrow out of a topic carries its deliveries per second
//! (λ, retries included), the arrow out of a pool its acks per second (each success publishes
//! its follow-ups). When the boxes do not fit, the same figures come as one line per node.

use std::collections::BTreeMap;

use petgraph::graph::NodeIndex;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Widget};

use super::super::theme::Theme;
use super::lines::{Grid, set};
use super::{fit, ms};
use crate::engine::{Snapshot, TopicView, WorkerState};
use crate::flow::{Flow, FlowEdge, FlowNode};
use crate::scenario::Scenario;

/// Seconds of the per-second series the rates are averaged over (the broker view's "now").
const RECENT_SECONDS: usize = 10;
/// Box height: top border (name), one line of figures, bottom border.
const BOX_H: u16 = 3;
/// Widest box.
const MAX_BOX_W: u16 = 26;
/// Narrowest box: below this a name is not recognisable any more.
const MIN_BOX_W: u16 = 14;
/// Gap between columns with rates on the arrows: `─7.6/s─┐▶`.
const LABEL_GAP: u16 = 9;
/// Widest gap when there is room to spare.
const MAX_GAP: u16 = 14;
/// Gap between columns without labels: `─┐▶`.
const BARE_GAP: u16 = 3;

/// The flow of `scenario` with the figures of `snapshot`, the selected topic highlighted.
pub struct FlowView<'a> {
    flow: Flow,
    scenario: &'a Scenario,
    snapshot: &'a Snapshot,
    selected: usize,
    theme: &'a Theme,
}

/// Where everything goes, for one area size.
#[derive(Debug, Clone, PartialEq)]
struct Placement {
    /// Box of each node drawn as a box.
    boxes: BTreeMap<NodeIndex, Rect>,
    /// Left x of each column and its width, relative to the area.
    columns: Vec<(u16, u16)>,
    /// Column of each boxed node.
    column_of: BTreeMap<NodeIndex, usize>,
    /// Width of the gaps.
    gap: u16,
    /// Rows used.
    height: u16,
}

impl<'a> FlowView<'a> {
    /// The flow view of `scenario` with the live figures of `snapshot`.
    pub fn new(
        scenario: &'a Scenario,
        snapshot: &'a Snapshot,
        selected: usize,
        theme: &'a Theme,
    ) -> Self {
        Self {
            flow: Flow::new(scenario),
            scenario,
            snapshot,
            selected,
            theme,
        }
    }

    /// Rows the view wants at `width`: the boxes if they fit that wide, else one line per node.
    pub fn height(&self, width: u16) -> u16 {
        match self.place(width) {
            Some(placement) => placement.height,
            None => self.list_nodes().len() as u16,
        }
    }

    /// Whether the boxes fit into `area` (otherwise the one-line-per-node form is drawn).
    pub fn fits_as_graph(&self, area: Rect) -> bool {
        self.place(area.width)
            .is_some_and(|p| p.height <= area.height)
    }

    /// The dead-letter topic hanging under `node`, if any.
    fn hung_under(&self, node: NodeIndex) -> Option<NodeIndex> {
        self.flow
            .outgoing(node)
            .into_iter()
            .find(|&(to, kind)| kind == FlowEdge::DeadLetter && self.flow.is_dead_letter_sink(to))
            .map(|(to, _)| to)
    }

    fn is_hung(&self, node: NodeIndex) -> bool {
        self.flow.is_dead_letter_sink(node)
    }

    /// Nodes with a line of their own in the list form (hung dead letters share their source's).
    fn list_nodes(&self) -> Vec<NodeIndex> {
        self.flow
            .layers()
            .iter()
            .flatten()
            .copied()
            .filter(|&n| !self.is_hung(n))
            .collect()
    }

    fn topic_view(&self, index: usize) -> Option<&TopicView> {
        self.snapshot.topics.get(index)
    }

    /// Mean per second over the recent series of `f`.
    fn recent(&self, f: impl Fn(&crate::engine::SecondSample) -> u64) -> f64 {
        let series = &self.snapshot.series;
        let recent = &series[series.len().saturating_sub(RECENT_SECONDS)..];
        if recent.is_empty() {
            return 0.0;
        }
        recent.iter().map(f).sum::<u64>() as f64 / recent.len() as f64
    }

    /// The figures in a node's box, and their style.
    fn figures(&self, node: NodeIndex, room: usize) -> (String, Style) {
        let theme = self.theme;
        match self.flow.node(node) {
            FlowNode::Api => (
                format!("{:.1} req/s", self.recent(|s| s.requests)),
                theme.text,
            ),
            FlowNode::Outbox => {
                let outbox = &self.snapshot.outbox;
                if outbox.pending == 0 {
                    ("0 pending".into(), theme.text)
                } else {
                    (
                        format!(
                            "{} pending, lag {}",
                            outbox.pending,
                            ms(outbox.relay_lag_ms as f64)
                        ),
                        theme.warn,
                    )
                }
            }
            FlowNode::Producer { name } => {
                let rate = self
                    .scenario
                    .traffic
                    .iter()
                    .find(|t| &t.name == name)
                    .map_or(0.0, |t| t.rate_per_s * self.snapshot.rate_multiplier);
                (format!("set to {}", rate_text(rate)), theme.text)
            }
            FlowNode::Topic { index, .. } => {
                let Some(view) = self.topic_view(*index) else {
                    return ("-".into(), theme.dim);
                };
                let t = &view.topic;
                let fill = t.backlog() as f64 / f64::from(t.capacity.max(1));
                let style = if fill >= 0.9 {
                    theme.reject
                } else if fill >= 0.5 || t.parked() > 0 {
                    theme.warn
                } else {
                    theme.text
                };
                let paused = if t.paused { "⏸ " } else { "" };
                let inflow = self.recent(|s| s.published.get(*index).copied().unwrap_or(0));
                (
                    format!(
                        "{paused}{}/{} in {}",
                        t.backlog(),
                        t.capacity,
                        rate_text(inflow)
                    ),
                    style,
                )
            }
            FlowNode::Pool { name, topic } => {
                let Some(view) = self
                    .topic_view(*topic)
                    .filter(|v| v.pool.as_deref() == Some(name.as_str()))
                else {
                    return ("-".into(), theme.dim);
                };
                let busy = view.window.map_or(view.utilization, |w| w.utilization) * 100.0;
                let slots: String = view.workers.iter().map(worker_slot).collect();
                let crashed = view
                    .workers
                    .iter()
                    .any(|w| matches!(w, WorkerState::Crashed));
                let style = if crashed || view.live_workers == 0 {
                    theme.warn
                } else {
                    theme.text
                };
                let full = format!("{slots} {busy:.0}%");
                if full.chars().count() <= room {
                    (full, style)
                } else {
                    let working = view
                        .workers
                        .iter()
                        .filter(|w| matches!(w, WorkerState::Busy { .. }))
                        .count();
                    (
                        format!("{working}/{} busy {busy:.0}%", view.workers.len()),
                        style,
                    )
                }
            }
        }
    }

    /// The rate on the arrows out of `node`: deliveries per second out of a topic (what its
    /// pool takes, behind the inflow while the queue grows), acks per second out of a pool
    /// (what its follow-ups are published at).
    fn out_rate(&self, node: NodeIndex) -> Option<f64> {
        match self.flow.node(node) {
            FlowNode::Topic { index, .. } => {
                let view = self.topic_view(*index)?;
                view.pool.as_ref()?;
                Some(view.window.map_or(view.arrival_rate, |w| w.delivery_rate))
            }
            FlowNode::Pool { name, topic } => {
                let view = self.topic_view(*topic)?;
                (view.pool.as_deref() == Some(name.as_str())).then_some(())?;
                Some(self.recent(|s| s.acked.get(*topic).copied().unwrap_or(0)))
            }
            _ => None,
        }
    }

    /// The dead-letter line under a topic: name and how many it holds.
    fn dead_letter_text(&self, node: NodeIndex) -> (String, Style) {
        let FlowNode::Topic { name, index } = self.flow.node(node) else {
            return (self.flow.node(node).label().to_string(), self.theme.dim);
        };
        let held = self.topic_view(*index).map_or(0, |v| {
            v.topic
                .dead_letters
                .as_ref()
                .map_or(v.topic.backlog(), |d| d.depth)
        });
        let style = if *index == self.selected {
            self.theme.selected
        } else if held > 0 {
            self.theme.reject
        } else {
            self.theme.dim
        };
        (format!("{name} {held}"), style)
    }

    fn is_selected(&self, node: NodeIndex) -> bool {
        matches!(self.flow.node(node), FlowNode::Topic { index, .. } if *index == self.selected)
    }

    /// Lays the boxes out `width` columns wide; `None` when even the narrowest boxes do not fit.
    fn place(&self, width: u16) -> Option<Placement> {
        // Columns: the layers without the hung dead letters, empty ones dropped.
        let columns: Vec<Vec<NodeIndex>> = self
            .flow
            .layers()
            .iter()
            .map(|l| l.iter().copied().filter(|&n| !self.is_hung(n)).collect())
            .filter(|l: &Vec<NodeIndex>| !l.is_empty())
            .collect();
        if columns.is_empty() {
            return None;
        }
        let mut column_of = BTreeMap::new();
        for (c, nodes) in columns.iter().enumerate() {
            for &n in nodes {
                column_of.insert(n, c);
            }
        }
        let lane_of = self.lanes(&columns, &column_of);
        let lanes = lane_of.values().max().map_or(0, |l| l + 1);
        // A lane is a box high, plus a line when a box in it has a dead letter hanging under it.
        let lane_h: Vec<u16> = (0..lanes)
            .map(|lane| {
                let hangs = lane_of
                    .iter()
                    .any(|(&n, &l)| l == lane && self.hung_under(n).is_some());
                BOX_H + u16::from(hangs)
            })
            .collect();
        // (natural, least) width of each column: names may be cut, figures not.
        let (natural, least): (Vec<u16>, Vec<u16>) = columns
            .iter()
            .map(|nodes| {
                nodes
                    .iter()
                    .map(|&n| {
                        let name = self.flow.node(n).label().chars().count() + 4;
                        let figures = self.figures(n, usize::MAX).0.chars().count() + 2;
                        (name.max(figures) as u16, figures as u16)
                    })
                    .fold((0, MIN_BOX_W), |(a, b), (n, f)| (a.max(n), b.max(f)))
            })
            .map(|(natural, least)| (natural.min(MAX_BOX_W), least.min(natural)))
            .unzip();
        let gaps = columns.len().saturating_sub(1) as u16;
        let fitted = fit_widths(&natural, &least, width, LABEL_GAP, gaps)
            .or_else(|| fit_widths(&natural, &least, width, BARE_GAP, gaps))?;
        let (widths, mut gap) = fitted;
        // Room to spare goes to the gaps (up to a point), so the arrows and their rates breathe.
        if gap == LABEL_GAP && gaps > 0 {
            let used: u16 = widths.iter().sum::<u16>() + gap * gaps;
            gap = (gap + width.saturating_sub(used) / gaps).min(MAX_GAP);
        }
        let mut x = 0u16;
        let mut column_x = Vec::new();
        for &w in &widths {
            column_x.push((x, w));
            x += w + gap;
        }
        let mut tops = Vec::new();
        let mut y = 0u16;
        for &h in &lane_h {
            tops.push(y);
            y += h;
        }
        let boxes = lane_of
            .iter()
            .map(|(&n, &lane)| {
                let (x, w) = column_x[column_of[&n]];
                (n, Rect::new(x, tops[lane], w, BOX_H))
            })
            .collect();
        Some(Placement {
            boxes,
            columns: column_x,
            column_of,
            gap,
            height: y,
        })
    }

    /// A lane for every node: its first predecessor's if free, else the next free one; an arrow
    /// that skips columns needs its target's lane free in the columns it crosses.
    fn lanes(
        &self,
        columns: &[Vec<NodeIndex>],
        column_of: &BTreeMap<NodeIndex, usize>,
    ) -> BTreeMap<NodeIndex, usize> {
        let mut lane_of: BTreeMap<NodeIndex, usize> = BTreeMap::new();
        // (column, lane) taken by a box or by an arrow passing through.
        let mut taken: std::collections::BTreeSet<(usize, usize)> = Default::default();
        for (c, nodes) in columns.iter().enumerate() {
            for &node in nodes {
                let preds: Vec<(usize, usize)> = self
                    .flow
                    .incoming(node)
                    .into_iter()
                    .filter_map(|(p, _)| Some((*column_of.get(&p)?, *lane_of.get(&p)?)))
                    .filter(|&(pc, _)| pc < c)
                    .collect();
                let preferred = preds.iter().map(|&(_, l)| l).min().unwrap_or(0);
                let free = |lane: usize| {
                    !taken.contains(&(c, lane))
                        && preds.iter().all(|&(pc, _)| {
                            (pc + 1..c).all(|between| !taken.contains(&(between, lane)))
                        })
                };
                let lane = (preferred..).find(|&l| free(l)).unwrap_or(preferred);
                taken.insert((c, lane));
                for &(pc, _) in &preds {
                    for between in pc + 1..c {
                        taken.insert((between, lane));
                    }
                }
                lane_of.insert(node, lane);
            }
        }
        lane_of
    }

    fn render_graph(&self, placement: &Placement, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let mut grid = Grid::new(area.width, area.height);
        // Arrows first: boxes and labels are drawn over them.
        let mut arrow_heads = Vec::new();
        let mut stubs: Vec<(NodeIndex, u16, u16)> = Vec::new();
        for (&from, rect) in &placement.boxes {
            let targets: Vec<NodeIndex> = self
                .flow
                .outgoing(from)
                .into_iter()
                .map(|(to, _)| to)
                .filter(|to| placement.boxes.contains_key(to))
                .collect();
            let from_col = placement.column_of[&from];
            let drawn: Vec<&Rect> = targets
                .iter()
                .filter(|to| placement.column_of[*to] > from_col)
                .map(|to| &placement.boxes[to])
                .collect();
            if drawn.is_empty() {
                continue;
            }
            let ys = rect.y + 1;
            let start = rect.x + rect.width;
            // The bus runs down the gap right after the source column.
            let next_x = placement
                .columns
                .get(from_col + 1)
                .map_or(start + placement.gap, |c| c.0);
            let bus = next_x.saturating_sub(2);
            grid.hline(ys, start, bus);
            for target in drawn {
                let yt = target.y + 1;
                grid.vline(bus, ys, yt);
                let head = target.x.saturating_sub(1);
                grid.hline(yt, bus, head);
                arrow_heads.push((head, yt));
            }
            stubs.push((from, start, bus));
        }
        grid.render(area, buf, theme.dim);
        for (x, y) in arrow_heads {
            set(buf, area, x, y, "▶", theme.dim);
        }
        for (&node, rect) in &placement.boxes {
            let selected = self.is_selected(node);
            let block = Block::bordered()
                .border_type(if selected {
                    BorderType::Thick
                } else {
                    BorderType::Plain
                })
                .border_style(if selected {
                    theme.border_focus
                } else {
                    theme.border
                })
                .title(fit(
                    &format!(" {} ", self.flow.node(node).label()),
                    usize::from(rect.width.saturating_sub(2)),
                ))
                .title_style(if selected {
                    theme.selected
                } else {
                    theme.accent
                });
            let outer = Rect::new(area.x + rect.x, area.y + rect.y, rect.width, rect.height)
                .intersection(area);
            let inner = block.inner(outer);
            block.render(outer, buf);
            let (text, style) = self.figures(node, usize::from(inner.width));
            Paragraph::new(fit(&text, usize::from(inner.width)))
                .style(style)
                .render(inner, buf);
            if self.hung_under(node).is_some() {
                let (x, y) = (rect.x + 2, rect.y + rect.height);
                set(
                    buf,
                    area,
                    x,
                    y - 1,
                    if selected { "┳" } else { "┬" },
                    border(self, selected),
                );
                set(buf, area, x, y, "└", theme.dim);
                set(buf, area, x + 1, y, "▶", theme.dim);
            }
        }
        // A dead letter's name runs on to the right until something else is drawn there.
        for (&node, rect) in &placement.boxes {
            let Some(dead) = self.hung_under(node) else {
                continue;
            };
            let (text, style) = self.dead_letter_text(dead);
            let (x, y) = (rect.x + 5, rect.y + rect.height);
            let free = (x..area.width)
                .take_while(|&cx| buf[(area.x + cx, area.y + y)].symbol() == " ")
                .count();
            set(buf, area, x, y, &fit(&text, free.saturating_sub(1)), style);
        }
        // Rates on the stubs, and the junction on the source's border.
        for (node, start, bus) in stubs {
            let rect = placement.boxes[&node];
            let selected = self.is_selected(node);
            set(
                buf,
                area,
                start - 1,
                rect.y + 1,
                if selected { "┣" } else { "├" },
                border(self, selected),
            );
            let Some(rate) = self.out_rate(node) else {
                continue;
            };
            let label = rate_text(rate);
            let room = bus.saturating_sub(start + 1);
            if label.chars().count() as u16 <= room.saturating_sub(1) {
                set(buf, area, start + 1, rect.y + 1, &label, theme.text);
            }
        }
    }

    fn render_list(&self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let nodes = self.list_nodes();
        let name_w = nodes
            .iter()
            .map(|&n| self.flow.node(n).label().chars().count())
            .max()
            .unwrap_or(0)
            .min(18);
        let height = usize::from(area.height);
        let at = nodes.iter().position(|&n| self.is_selected(n)).unwrap_or(0);
        let offset = at.saturating_sub(height.saturating_sub(1));
        let lines: Vec<Line> = nodes
            .iter()
            .skip(offset)
            .take(height)
            .map(|&node| {
                let selected = self.is_selected(node);
                let (figures, style) = self.figures(node, 14);
                let mut spans = vec![
                    Span::styled(
                        format!("{:<name_w$} ", fit(self.flow.node(node).label(), name_w)),
                        if selected {
                            theme.selected
                        } else {
                            theme.accent
                        },
                    ),
                    Span::styled(format!("{figures:<16} "), style),
                ];
                let targets: Vec<&str> = self
                    .flow
                    .outgoing(node)
                    .into_iter()
                    .filter(|&(to, _)| !self.is_hung(to))
                    .map(|(to, _)| self.flow.node(to).label())
                    .collect();
                if !targets.is_empty() {
                    let rate = self
                        .out_rate(node)
                        .map_or(String::new(), |r| format!(" {}", rate_text(r)));
                    spans.push(Span::styled(format!("─▶{rate} "), theme.dim));
                    spans.push(Span::styled(targets.join(", "), theme.text));
                }
                if let Some(dead) = self.hung_under(node) {
                    let (text, style) = self.dead_letter_text(dead);
                    spans.push(Span::styled("  ✗▶ ", theme.dim));
                    spans.push(Span::styled(text, style));
                }
                Line::from(spans)
            })
            .collect();
        Paragraph::new(lines).render(area, buf);
    }
}

impl Widget for &FlowView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < 3 || area.height == 0 {
            return;
        }
        match self.place(area.width).filter(|p| p.height <= area.height) {
            Some(placement) => self.render_graph(&placement, area, buf),
            None => self.render_list(area, buf),
        }
    }
}

fn border(view: &FlowView<'_>, selected: bool) -> Style {
    if selected {
        view.theme.border_focus
    } else {
        view.theme.border
    }
}

/// One worker as one cell: `●` busy, `◐` backing off, `○` idle, `✗` crashed.
fn worker_slot(worker: &WorkerState) -> char {
    match worker {
        WorkerState::Idle => '○',
        WorkerState::Busy { .. } => '●',
        WorkerState::BackingOff { .. } => '◐',
        WorkerState::Crashed => '✗',
    }
}

/// A rate per second, short: `7.6/s`, `76.3/s`, `763/s`.
fn rate_text(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{rate:.0}/s")
    } else {
        format!("{rate:.1}/s")
    }
}

/// Column widths and the gap that fit `natural` into `width` with `gaps` gaps of `gap`, the
/// widest columns narrowed first but none below its `least`; `None` if that is not enough.
fn fit_widths(
    natural: &[u16],
    least: &[u16],
    width: u16,
    gap: u16,
    gaps: u16,
) -> Option<(Vec<u16>, u16)> {
    let room = width.checked_sub(gap * gaps)?;
    let mut widths = natural.to_vec();
    let mut total: u16 = widths.iter().sum();
    while total > room {
        let widest = widths
            .iter()
            .enumerate()
            .filter(|&(i, w)| *w > least.get(i).copied().unwrap_or(0))
            .max_by_key(|&(i, w)| (*w, std::cmp::Reverse(i)))
            .map(|(i, _)| i)?;
        widths[widest] -= 1;
        total -= 1;
    }
    Some((widths, gap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_shrink_the_widest_first_and_give_up_below_the_minimum() {
        let least = [8, 8, 8];
        assert_eq!(
            fit_widths(&[10, 20, 12], &least, 50, 3, 2),
            Some((vec![10, 20, 12], 3))
        );
        assert_eq!(
            fit_widths(&[10, 20, 12], &least, 36, 3, 2),
            Some((vec![10, 10, 10], 3))
        );
        // A column's least width (its figures) holds; the others give way.
        assert_eq!(
            fit_widths(&[10, 20, 12], &[8, 16, 8], 38, 3, 2),
            Some((vec![8, 16, 8], 3))
        );
        assert_eq!(fit_widths(&[10, 20, 12], &[8, 16, 8], 37, 3, 2), None);
        assert_eq!(fit_widths(&[10, 20, 12], &least, 20, 3, 2), None);
        assert_eq!(fit_widths(&[10], &least, 2, 3, 0), None);
    }

    #[test]
    fn rates_are_short() {
        assert_eq!(rate_text(7.63), "7.6/s");
        assert_eq!(rate_text(763.0), "763/s");
    }
}
