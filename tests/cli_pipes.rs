//! A reader that stops early (`archsim tour --check … | head -1`) ends the command quietly:
//! exit 0 and nothing on standard error, not a `println!` panic about a broken pipe.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

#[test]
fn a_closed_pipe_ends_tour_check_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_archsim"))
        .args(["tour", "--check", "scenarios/saas.toml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("archsim starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("reads the first line");
    assert!(first.contains("tour `first-request`"), "{first}");
    // The reader goes away, as `head -1` does; the next lines meet a closed pipe.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr is piped")
        .read_to_string(&mut stderr)
        .expect("reads stderr");
    let status = child.wait().expect("archsim ends");
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
