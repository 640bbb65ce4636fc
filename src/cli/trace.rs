//! `archsim trace`: send one request through the real pipeline and print every stage.

use std::path::PathBuf;

use serde_json::Value;

use super::{EXIT_OK, EXIT_USAGE, report_load_error};
use crate::engine::{ApiRequest, Clock, Command, Engine, Epoch, Options, Reply, Trace};
use crate::scenario::{self, Scenario};
use crate::units::{ms, us};

/// The `trace` command's arguments.
#[derive(Debug, Clone)]
pub struct TraceArgs {
    /// Scenario file, or the default.
    pub file: Option<PathBuf>,
    /// Persona sending the request.
    pub persona: String,
    /// Host header override.
    pub host: Option<String>,
    /// Token override.
    pub token: Option<String>,
    /// Extra `Name: value` headers.
    pub headers: Vec<String>,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Raw JSON body.
    pub body: Option<String>,
    /// JSON output.
    pub json: bool,
}

/// Runs `trace`. The engine runs quietly on virtual time that starts at the real time: modelled
/// latencies advance the engine clock without making you wait, and tokens keep real timestamps
/// (so a token from `archsim token` is valid here).
pub fn run(args: TraceArgs) -> u8 {
    let scenario = match scenario::load_or_default(args.file.as_deref()) {
        Ok(scenario) => scenario,
        Err(error) => return report_load_error(&error),
    };
    let request = match build_request(&scenario, &args) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("archsim trace: {message}");
            return EXIT_USAGE;
        }
    };
    let options = Options::quiet(Clock::Virtual).epoch(Epoch::Now);
    let engine = match Engine::spawn_with(scenario, options) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("archsim trace: {error}");
            return EXIT_USAGE;
        }
    };
    match engine.execute(Command::Send { request }).wait() {
        Ok(Reply::Response(exchange)) => {
            if args.json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&exchange.trace).unwrap_or_default()
                );
            } else {
                out!("{}", render_text(&exchange.trace));
            }
            EXIT_OK
        }
        Ok(_) => EXIT_USAGE,
        Err(error) => {
            eprintln!("archsim trace: {error}");
            EXIT_USAGE
        }
    }
}

fn build_request(scenario: &Scenario, args: &TraceArgs) -> Result<ApiRequest, String> {
    let mut request = ApiRequest::as_persona(scenario, &args.persona, &args.method, &args.path)
        .map_err(|e| e.to_string())?;
    if let Some(host) = &args.host {
        request.host = host.clone();
    }
    if let Some(token) = &args.token {
        // An explicit token replaces the fresh one; an empty one means "send none".
        request.mint = None;
        if !token.is_empty() {
            request = request.bearer(token);
        }
    }
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("header `{header}` is not `Name: value`"))?;
        request = request.header(name.trim(), value.trim());
    }
    if let Some(body) = &args.body {
        request = request.raw_body(body.clone().into_bytes());
    }
    Ok(request)
}

/// The trace as text: one line per stage, then the response.
pub fn render_text(trace: &Trace) -> String {
    let mut out = format!(
        "{} {}  host {}  as {}\n\n",
        trace.request.method,
        trace.request.path,
        trace.request.host,
        trace.request.persona.as_deref().unwrap_or("-")
    );
    out.push_str(&format!(
        "  {:<18} {:<8} {:>9} {:>9}  what happened\n",
        "stage", "outcome", "modelled", "measured"
    ));
    for stage in &trace.stages {
        out.push_str(&format!(
            "  {:<18} {:<8} {:>9} {:>9}  {}\n",
            stage.stage,
            stage.outcome.as_str(),
            ms(stage.modelled_ms),
            us(stage.measured_us),
            stage.summary()
        ));
    }
    out.push_str(&format!(
        "\n→ {}   total modelled {}\n",
        trace.status,
        ms(trace.total_modelled_ms)
    ));
    let body = match &trace.response {
        Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let lines: Vec<&str> = body.lines().collect();
    for line in lines.iter().take(40) {
        out.push_str(&format!("  {line}\n"));
    }
    if lines.len() > 40 {
        out.push_str(&format!(
            "  … {} more lines (use --json for all)\n",
            lines.len() - 40
        ));
    }
    out
}
