//! Every TOML snippet in the authors' guide, `scenarios/README.md`, is real:
//!
//! - the walkthrough's snippets, appended in order, build a valid scenario, and after each step
//!   `archsim check` (and at the end `archsim tour --check`) prints exactly what the guide's
//!   console blocks show;
//! - the reference's examples assemble into one valid scenario whose tours hold;
//! - a block fenced as ` ```toml fragment ` (a few keys out of a larger table) is valid TOML.
//!
//! So a reader who copies a snippet gets what the guide promises.

use std::path::Path;
use std::process::Command;

use archsim::scenario::load_str;

const BIN: &str = env!("CARGO_BIN_EXE_archsim");

/// A fenced block of the guide.
struct Block {
    /// What follows the opening fence: `toml`, `toml fragment`, `console`, …
    info: String,
    /// The lines between the fences.
    body: String,
    /// The line of the opening fence (1-based), for messages.
    line: usize,
}

fn guide() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/README.md"))
        .expect("scenarios/README.md")
}

/// The fenced blocks of `text` between the headings starting `from` and `to`.
fn blocks(text: &str, from: &str, to: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut inside = false;
    let mut open: Option<Block> = None;
    for (index, line) in text.lines().enumerate() {
        if line.starts_with(from) {
            inside = true;
        } else if line.starts_with(to) {
            inside = false;
        }
        let fence = line.trim_start();
        match (&mut open, fence.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    body: String::new(),
                    line: index + 1,
                });
            }
            (Some(_), Some(_)) => {
                let block = open.take().expect("an open block");
                if inside {
                    blocks.push(block);
                }
            }
            (Some(block), None) => {
                block.body.push_str(line);
                block.body.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

fn is_scenario_toml(block: &Block) -> bool {
    block.info == "toml"
}

/// Runs `archsim args…` in `dir`; stdout and stderr together.
fn archsim(dir: &Path, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("archsim runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The walkthrough's console blocks each say what a command prints for the file built so far;
/// for `archsim check` and `archsim tour … --check`, it must be exactly that.
#[test]
fn the_walkthrough_builds_the_scenario_and_tour_it_shows() {
    let text = guide();
    let walkthrough = blocks(&text, "## 1.", "## 2.");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("scenarios")).expect("scenarios/");
    let file = dir.path().join("scenarios/notes.toml");
    let mut scenario = String::new();
    let mut compared = 0;
    for block in &walkthrough {
        if is_scenario_toml(block) {
            scenario.push_str(&block.body);
            std::fs::write(&file, &scenario).expect("write notes.toml");
            continue;
        }
        if block.info != "console" {
            continue;
        }
        // `$ command` lines, each followed by what it prints.
        let mut lines = block.body.lines().peekable();
        while let Some(line) = lines.next() {
            let Some(command) = line.strip_prefix("$ archsim ") else {
                continue;
            };
            let command = command.split('#').next().unwrap_or_default().trim();
            let mut shown = String::new();
            while let Some(next) = lines.peek().filter(|l| !l.starts_with("$ ")) {
                shown.push_str(next);
                shown.push('\n');
                lines.next();
            }
            let args: Vec<&str> = command.split_whitespace().collect();
            let checked = args.first() == Some(&"check")
                || (args.first() == Some(&"tour") && args.contains(&"--check"));
            if !checked {
                continue;
            }
            let printed = archsim(dir.path(), &args);
            assert_eq!(
                printed, shown,
                "README.md:{}: `archsim {command}` prints something else for the file built so far",
                block.line
            );
            compared += 1;
        }
    }
    assert!(
        compared >= 3,
        "the first and last steps' checks and the tour check: {compared}"
    );
    let built = load_str("notes.toml", &scenario).expect("the walkthrough's scenario is valid");
    assert_eq!(built.tours.len(), 1, "the walkthrough ends with a tour");
}

#[test]
fn the_references_examples_assemble_into_a_scenario_whose_tours_hold() {
    let text = guide();
    let examples: String = blocks(&text, "## 2.", "## 3.")
        .iter()
        .filter(|b| is_scenario_toml(b))
        .map(|b| b.body.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let scenario = load_str("reference.toml", &examples)
        .unwrap_or_else(|d| panic!("the reference's examples do not validate:\n{d}"));
    assert!(scenario.tours.len() >= 2, "its tours are there");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("reference.toml");
    std::fs::write(&file, &examples).expect("write");
    let printed = archsim(dir.path(), &["tour", "--check", "reference.toml"]);
    assert!(
        printed.contains("ok — 2 tour(s)"),
        "the reference's tours hold:\n{printed}"
    );
}

#[test]
fn every_fragment_is_valid_toml_and_every_snippet_is_checked() {
    let text = guide();
    let all = blocks(&text, "# ", "\u{0}");
    let mut fragments = 0;
    for block in &all {
        match block.info.as_str() {
            "toml" => {}
            "toml fragment" => {
                // A fragment is keys of a table, or one inline table of an array.
                let body = if block.body.trim_start().starts_with('{') {
                    format!("x = [\n{}]\n", block.body)
                } else {
                    block.body.clone()
                };
                if let Err(error) = body.parse::<toml::Table>() {
                    panic!(
                        "README.md:{}: the fragment is not TOML: {error}",
                        block.line
                    );
                }
                fragments += 1;
            }
            info => assert!(
                !info.starts_with("toml"),
                "README.md:{}: `{info}`: fence TOML as `toml` (checked as part of the scenario) \
                 or `toml fragment`",
                block.line
            ),
        }
    }
    assert!(fragments >= 3, "{fragments}");
    let scenario_blocks = all.iter().filter(|b| is_scenario_toml(b)).count();
    let in_sections = blocks(&text, "## 1.", "## 3.")
        .iter()
        .filter(|b| is_scenario_toml(b))
        .count();
    assert!(in_sections > 20, "{in_sections}");
    assert_eq!(
        scenario_blocks, in_sections,
        "every `toml` block is in the walkthrough or the reference, where it is checked"
    );
}
