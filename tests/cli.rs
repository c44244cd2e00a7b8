//! The `sessionhub` binary as an operator runs it.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

/// A misspelt setting would otherwise be ignored in silence and its default used: the
/// server names it, and the setting it most likely meant, before it starts serving.
#[test]
fn serve_warns_about_unknown_sessionhub_variables() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    let mut server = Command::new(env!("CARGO_BIN_EXE_sessionhub"))
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", database)
        .env("SESSIONHUB_LISTEN", "127.0.0.1:0")
        .env("SESSIONHUB_LOG", "info")
        .env("SESSIONHUB_IDLE_TIMOUT", "1m")
        .env("SESSIONHUB_TEST_ANYTHING", "tooling, not a setting")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let stderr = server.stderr.take().expect("piped stderr");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let mut before_serving = Vec::new();
    while let Ok(line) = received.recv_timeout(Duration::from_secs(30)) {
        if line.contains("serving GraphQL") {
            break;
        }
        before_serving.push(line);
    }
    server.kill().expect("stop the server");
    let _ = server.wait();
    let warnings: Vec<&String> = before_serving
        .iter()
        .filter(|line| line.contains("unknown SESSIONHUB_ variable"))
        .collect();
    assert_eq!(warnings.len(), 1, "{before_serving:#?}");
    assert!(
        warnings[0].contains("SESSIONHUB_IDLE_TIMOUT")
            && warnings[0].contains("did_you_mean=\"SESSIONHUB_IDLE_TIMEOUT\""),
        "{}",
        warnings[0]
    );
}
