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
    let (mut server, received, _dir) = serve(&[
        ("SESSIONHUB_IDLE_TIMOUT", "1m"),
        ("SESSIONHUB_TEST_ANYTHING", "tooling, not a setting"),
    ]);
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

/// `serve --help` shows each setting's variable, never the value it has now: those
/// hold passwords and tokens.
#[test]
fn help_never_prints_the_values_of_secret_settings() {
    let help = Command::new(env!("CARGO_BIN_EXE_sessionhub"))
        .args(["serve", "--help"])
        .env_clear()
        .env(
            "DATABASE_URL",
            "postgres://app:db-pa55@db.internal/sessions",
        )
        .env("SESSIONHUB_REDIS_URL", "redis://:redis-pa55@cache.internal")
        .env(
            "SESSIONHUB_WEBHOOK_URLS",
            "https://hooks:hook-pa55@hooks.example/in?token=hook-token",
        )
        .output()
        .expect("run serve --help");
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("SESSIONHUB_WEBHOOK_URLS"), "{help}");
    for secret in ["db-pa55", "redis-pa55", "hook-pa55", "hook-token"] {
        assert!(!help.contains(secret), "{secret} in {help}");
    }
}

/// Operators get one line per request at the default level: as JSON when asked, with the
/// operation, its outcome and duration, the client's network only when masked, and never
/// a token.
#[tokio::test]
async fn serve_logs_each_request_as_json_without_tokens() {
    const SECRET: &str = "a-test-identity-secret-of-32-bytes!!";
    let (mut server, received, _dir) = serve(&[
        ("SESSIONHUB_LOG", "info"),
        ("SESSIONHUB_LOG_FORMAT", "json"),
        ("SESSIONHUB_LOG_CLIENT_IPS", "masked"),
        ("SESSIONHUB_IDENTITY_SECRET", SECRET),
    ]);
    let started: serde_json::Value = loop {
        let line = received
            .recv_timeout(Duration::from_secs(30))
            .expect("the server starts");
        let line: serde_json::Value = serde_json::from_str(&line).expect("every line is JSON");
        if line["message"]
            .as_str()
            .unwrap()
            .starts_with("serving GraphQL")
        {
            break line;
        }
    };
    let address = started["address"].as_str().unwrap();
    let identity = sessionhub_client::identity::for_user(
        SECRET.as_bytes(),
        "alice",
        &["pwd"],
        sessionhub_client::identity::seconds_from_now(300),
    );
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{address}/graphql"))
        .bearer_auth(&identity)
        .json(&serde_json::json!({ "query": "mutation SignIn { startSession(input: {}) { token } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session_token = answer["data"]["startSession"]["token"].as_str().unwrap();
    let logged = received
        .recv_timeout(Duration::from_secs(10))
        .expect("a line for the request");
    // A client's operation name is recorded cut short, whatever its length.
    let long_name = format!("Long{}", "x".repeat(20_000));
    reqwest::Client::new()
        .post(format!("http://{address}/graphql"))
        .bearer_auth(session_token)
        .json(&serde_json::json!({ "query": format!("query {long_name} {{ __typename }}") }))
        .send()
        .await
        .unwrap();
    let long_line = received
        .recv_timeout(Duration::from_secs(10))
        .expect("a line for the long request");
    assert!(
        long_line.len() < 512,
        "a log line of {} bytes",
        long_line.len()
    );
    let long_line: serde_json::Value = serde_json::from_str(&long_line).unwrap();
    assert_eq!(long_line["operation"], long_name[..64]);
    server.kill().expect("stop the server");
    let _ = server.wait();
    let line: serde_json::Value = serde_json::from_str(&logged).unwrap();
    assert_eq!(line["level"], "INFO", "{logged}");
    assert_eq!(line["message"], "request", "{logged}");
    assert_eq!(line["surface"], "graphql");
    assert_eq!(line["status"], 200);
    assert_eq!(line["operation"], "SignIn");
    assert_eq!(line["code"], "OK");
    assert_eq!(line["client"], "127.0.0.0/24");
    assert!(line["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(!logged.contains(&identity) && !logged.contains(session_token));
}

/// Starts `sessionhub serve` on a fresh SQLite file and a free port with `variables` and
/// nothing else of this environment; its log lines arrive on the receiver.
fn serve(
    variables: &[(&str, &str)],
) -> (
    std::process::Child,
    mpsc::Receiver<String>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    let mut server = Command::new(env!("CARGO_BIN_EXE_sessionhub"))
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", database)
        .env("SESSIONHUB_LISTEN", "127.0.0.1:0")
        .env("SESSIONHUB_LOG", "info")
        .envs(variables.iter().copied())
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
    (server, received, dir)
}
