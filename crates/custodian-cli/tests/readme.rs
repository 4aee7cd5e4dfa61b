//! README.md's walkthroughs, run as pasted against a fresh `serve --demo`,
//! so the README cannot drift from what Custodian does.
//!
//! Every ```` ```bash ```` block runs, in order, in one bash process started
//! in a scratch checkout directory (with `custodian` on the PATH, as after
//! `cargo install`). A block is a series of steps: a command (one or more
//! lines) followed by the lines `#> ...` it must print (stdout and stderr
//! together; `...` stands for anything) and optionally `#> [exit N]`. A step
//! without `#> [exit N]` must exit 0. ```` ```sh ```` blocks are references
//! (the command list) and are not run.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

mod common;

use std::{fmt::Write as _, path::Path, process::Command};

use common::Server;

/// One command of a walkthrough and what it must print.
#[derive(Debug, Default)]
struct Step {
    /// The README line the command starts on.
    line: usize,
    command: String,
    expect: Vec<String>,
    exit: i32,
}

/// The steps of every `bash` block, in order.
fn steps(readme: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_block = false;
    let mut open = false; // the last line was part of a command
    for (i, line) in readme.lines().enumerate() {
        if !in_block {
            in_block = line.trim_end() == "```bash";
            continue;
        }
        if line.starts_with("```") {
            in_block = false;
            open = false;
            continue;
        }
        if let Some(expect) = line.strip_prefix("#>") {
            let step = steps
                .last_mut()
                .unwrap_or_else(|| panic!("README line {}: #> before any command", i + 1));
            let expect = expect.strip_prefix(' ').unwrap_or(expect);
            match expect
                .strip_prefix("[exit ")
                .and_then(|r| r.strip_suffix(']'))
            {
                Some(code) => step.exit = code.parse().unwrap(),
                None => step.expect.push(expect.trim_end().to_owned()),
            }
            open = false;
        } else if line.trim().is_empty() || line.trim_start().starts_with('#') {
            open = false;
        } else if open {
            let step = steps.last_mut().unwrap();
            step.command.push('\n');
            step.command.push_str(line);
        } else {
            steps.push(Step {
                line: i + 1,
                command: line.to_owned(),
                ..Step::default()
            });
            open = true;
        }
    }
    steps
}

/// `pattern` matches all of `text`, where `...` stands for any run of
/// characters (newlines included).
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split("...").collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// What a step printed, as the README shows it: trailing blanks dropped.
fn tidy(out: &str) -> String {
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_owned()
}

#[test]
fn the_glob_matches_what_it_should() {
    assert!(glob(
        r#"{"id":"...","duplicate":false}"#,
        r#"{"id":"01a2","duplicate":false}"#
    ));
    assert!(glob("ok: ... entries", "ok: 512 entries"));
    assert!(glob("a...b...c", "a\nxx b yy\nc"));
    assert!(!glob("a...b", "a c"));
    assert!(!glob("abc", "abcd"));
    assert!(!glob("a...a", "a"));
}

#[test]
fn every_readme_walkthrough_prints_what_the_readme_says() {
    for tool in ["bash", "curl", "jq", "sqlite3"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "the README's walkthroughs need {tool} (.ci/run installs it)"
        );
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let steps = steps(&readme);
    assert!(steps.len() > 20, "found only {} steps", steps.len());

    let dir = std::env::temp_dir().join(format!("custodian-readme-{}", uuid::Uuid::now_v7()));
    let out = dir.join(".steps");
    std::fs::create_dir_all(&out).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_custodian")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let clean = |cmd: &mut Command| {
        cmd.current_dir(&dir)
            .env("PATH", &path)
            .env("CUSTODIAN_LOG", "warn");
        for (k, _) in std::env::vars() {
            if k.starts_with("CUSTODIAN_") && k != "CUSTODIAN_LOG" || k == "DATABASE_URL" {
                cmd.env_remove(k);
            }
        }
    };
    let mut serve = Command::new(env!("CARGO_BIN_EXE_custodian"));
    serve
        .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .stderr(std::process::Stdio::null());
    clean(&mut serve);
    let server = Server::spawn(serve);

    let mut script = String::new();
    for (i, step) in steps.iter().enumerate() {
        let command = step.command.replace("localhost:8080", &server.addr);
        writeln!(
            script,
            "{{\n{command}\n}} > {o}/{i}.out 2>&1 < /dev/null\necho $? > {o}/{i}.rc",
            o = out.display()
        )
        .unwrap();
    }
    let mut bash = Command::new("bash");
    bash.args(["-c", &script]);
    clean(&mut bash);
    let ran = bash.output().unwrap();
    let (ok, seen) = server.stop();
    assert!(ok, "the demo server did not stop cleanly: {seen}");

    let mut failures = String::new();
    for (i, step) in steps.iter().enumerate() {
        let printed = std::fs::read_to_string(out.join(format!("{i}.out"))).unwrap_or_default();
        let rc: i32 = std::fs::read_to_string(out.join(format!("{i}.rc")))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(-1);
        let printed = tidy(&printed);
        let expected = step.expect.join("\n");
        let matches = step.expect.is_empty() || glob(&expected, &printed);
        if rc != step.exit || !matches {
            let _ = write!(
                failures,
                "\nREADME.md line {}:\n{}\n-- exit {rc} (README: {})\n-- printed:\n{printed}\n",
                step.line, step.command, step.exit
            );
            if !matches {
                let _ = writeln!(failures, "-- README shows:\n{expected}");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{failures}\n(bash stderr: {})",
        String::from_utf8_lossy(&ran.stderr)
    );
    // The walkthroughs wrote only into the demo's folder.
    let stray: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "custodian-demo" && n != ".steps")
        .collect();
    assert!(
        stray.is_empty(),
        "the walkthroughs left {stray:?} outside custodian-demo/"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
