//! The `omni` binary as a user runs it: configuration errors, missing backends, dev mode start and stop.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, ensure};

fn omni() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_omni"));
    command
        .env_remove("OMNI_CONFIG")
        .env("OMNI__TELEMETRY__LEVEL", "warn");
    command
}

#[test]
fn a_value_of_the_wrong_type_exits_64_naming_the_key() -> anyhow::Result<()> {
    let out = omni()
        .args(["config", "print"])
        .env("OMNI__HTTP__BODY_LIMIT_BYTES", "lots")
        .output()?;
    ensure!(out.status.code() == Some(64), "exit {:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(stderr.contains("body_limit_bytes"), "{stderr}");
    ensure!(stderr.lines().count() == 1, "one clear line: {stderr}");
    Ok(())
}

#[test]
fn config_print_shows_the_effective_settings_without_secrets() -> anyhow::Result<()> {
    let out = omni()
        .args(["config", "print"])
        .env("OMNI__DATABASE__URL", "postgres://omni:hunter2@db/omni")
        .env("OMNI__HTTP__PORTS__ORDERS", "9083")
        .output()?;
    ensure!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        stdout.contains("orders = 9083") && stdout.contains("[redacted]") && !stdout.contains("hunter2"),
        "{stdout}"
    );
    Ok(())
}

#[test]
fn serve_without_a_kafka_bootstrap_exits_64_before_binding() -> anyhow::Result<()> {
    let out = omni()
        .args(["serve", "orders"])
        .env("OMNI__DATABASE__URL", "postgres://127.0.0.1:1/x")
        .output()?;
    ensure!(out.status.code() == Some(64), "exit {:?}", out.status);
    ensure!(String::from_utf8_lossy(&out.stderr).contains("kafka.bootstrap_servers"));
    Ok(())
}

#[test]
fn serve_with_an_unreachable_database_says_which_and_names_the_key() -> anyhow::Result<()> {
    let dead_port = free_port()?;
    let out = omni()
        .args(["serve", "catalog"])
        .env(
            "OMNI__DATABASE__URL",
            format!("postgres://postgres@127.0.0.1:{dead_port}/omni"),
        )
        .env(
            "OMNI__KAFKA__BOOTSTRAP_SERVERS",
            omni_testkit::testing::kafka_bootstrap().unwrap_or_else(|| "127.0.0.1:1".into()),
        )
        .output()?;
    ensure!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    ensure!(stderr.trim().lines().count() == 1, "one line: {stderr}");
    ensure!(
        last.contains("database.url") || last.contains("kafka.bootstrap_servers"),
        "the failing backend and its key are named: {stderr}"
    );
    Ok(())
}

#[test]
fn dev_mode_starts_writes_its_endpoints_and_stops_cleanly_on_sigterm() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("omni-cli-{}", uuid::Uuid::new_v4().simple()));
    let endpoints = dir.join("endpoints.json");
    let mut child = omni()
        .args([
            "dev",
            "--ephemeral-ports",
            "--no-seed",
            "--admin-key",
            "cli-test-admin-key-1234",
        ])
        .arg("--data-dir")
        .arg(&dir)
        .arg("--endpoints-file")
        .arg(&endpoints)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let started = std::time::Instant::now();
    while !endpoints.exists() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&endpoints).context("dev mode never wrote its endpoints file")?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    ensure!(json["admin_key"] == "cli-test-admin-key-1234");
    ensure!(json["services"].as_object().map(|s| s.len()) == Some(6), "{json}");
    ensure!(
        json["kafka_bootstrap"]
            .as_str()
            .is_some_and(|b| b.starts_with("127.0.0.1:"))
    );
    let exit = stop_with_sigterm(&mut child, "dev mode did not stop on SIGTERM")?;
    let _ = std::fs::remove_dir_all(&dir);
    ensure!(exit.success(), "a clean stop exits 0, got {exit:?}");
    Ok(())
}

/// Sends SIGTERM and waits (bounded) for the process to exit; `what` names the failure if it does not.
fn stop_with_sigterm(
    child: &mut std::process::Child,
    what: &str,
) -> anyhow::Result<std::process::ExitStatus> {
    ensure!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?
            .success()
    );
    let started = std::time::Instant::now();
    loop {
        if let Some(exit) = child.try_wait()? {
            return Ok(exit);
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill()?;
            anyhow::bail!("{what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[test]
fn serve_runs_one_service_on_real_backends_and_drains_on_sigterm() -> anyhow::Result<()> {
    let bootstrap = omni_testkit::testing::kafka_bootstrap()
        .context("OMNI_TEST_KAFKA_BOOTSTRAP is not set: run the suite with scripts/test.sh")?;
    let database = omni_db::testing::TestDatabase::create(omni_db::testing::Backend::Postgres)?;
    let port = free_port()?;
    let mut child = omni()
        .args(["serve", "catalog"])
        .env("OMNI__DATABASE__URL", &database.url)
        .env("OMNI__KAFKA__BOOTSTRAP_SERVERS", &bootstrap)
        .env("OMNI__HTTP__PORTS__CATALOG", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let started = std::time::Instant::now();
    let ready = loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            stream
                .write_all(b"GET /health/ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer)?;
            if answer.starts_with("HTTP/1.1 200") {
                break answer;
            }
        }
        if started.elapsed() > Duration::from_secs(60) || child.try_wait()?.is_some() {
            let _ = child.kill();
            anyhow::bail!("omni serve catalog never became ready");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Without a key a probe learns up or down, not which dependency is where.
    ensure!(
        ready.contains("{\"status\":\"ready\"}") && !ready.contains("database"),
        "{ready}"
    );
    let exit = stop_with_sigterm(&mut child, "omni serve did not stop on SIGTERM")?;
    ensure!(exit.success(), "a drained stop exits 0, got {exit:?}");
    Ok(())
}
