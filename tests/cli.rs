//! The `switchboard` command: tenant provisioning through the CLI, and the embedded
//! cluster's start, reuse, attach, stop, and recovery after `kill -9`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard::db::embedded;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn cmd(data_dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir").arg(data_dir).env_remove("DATABASE_URL").env("RUST_LOG", "warn");
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn serve(data_dir: &Path, port: u16) -> Child {
    cmd(data_dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("SWITCHBOARD_ADMIN_TOKEN", "cli-admin")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "server did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_no_postmaster(cluster: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while embedded::running(cluster).is_some() {
        assert!(Instant::now() < deadline, "postmaster left running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn help_on_every_subcommand() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["tenant", "create", "--help"],
        vec!["demo", "--help"],
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage"), "{args:?}: {text}");
    }
    let out = Command::new(BIN).args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--database-url",
        "--data-dir",
        "--pg-bin",
        "--admin-token",
        "--log-format",
        "--apps-rate-limit",
        "--apps-rate-burst",
    ] {
        assert!(text.contains(flag), "serve --help lists {flag}");
    }
}

#[test]
fn missing_postgres_binaries_names_both_ways_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(dir.path()).args(["--pg-bin", "/nonexistent/bin", "migrate"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DATABASE_URL") && err.contains("install PostgreSQL"), "{err}");
}

#[test]
fn json_logs_on_stderr_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(dir.path())
        .env("RUST_LOG", "info")
        .args(["--log-format", "json", "migrate"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "migrations applied");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for l in lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|_| panic!("log line is JSON: {l}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{l}");
    }
    assert!(!err.contains("pg-password"), "no secrets in logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_provisioning_and_embedded_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let cluster = data.join("pg");

    // tenant create --json prints exactly the provisioning JSON, and stops the cluster it started.
    let out = cmd(&data)
        .args([
            "tenant",
            "create",
            "acme",
            "--name",
            "Acme",
            "--apps-token",
            "apps-secret",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is exactly JSON");
    assert_eq!(v["tenant"]["slug"], "acme");
    assert_eq!(v["tenant"]["name"], "Acme");
    assert_eq!(v["apps"]["token"], "apps-secret");
    assert_eq!(v["leads"]["domain"], "acme");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["tenant", "onc", "leads", "campaign_manager", "apps"]);
    assert!(v["campaign_manager"]["account_sid"].as_str().unwrap().starts_with("AC"));
    wait_no_postmaster(&cluster).await;

    // The server reuses the cluster: the tenant is there, and its credentials work.
    let port = free_port();
    let mut server = serve(&data, port);
    wait_healthy(port).await;
    let client = reqwest::Client::new();
    let tenants: Value = client
        .get(format!("http://127.0.0.1:{port}/admin/v1/tenants"))
        .bearer_auth("cli-admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tenants[0]["slug"], "acme");

    // The CLI attaches to the running cluster, and leaves it running.
    let out = cmd(&data).args(["tenant", "list", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["slug"], "acme");
    let out = cmd(&data).args(["tenant", "create", "beta", "--json"]).output().unwrap();
    assert!(out.status.success());
    assert!(
        embedded::running(&cluster).is_some(),
        "attached CLI must not stop the server's cluster"
    );

    // kill -9: no postmaster is left behind, and the next start recovers.
    server.kill().unwrap();
    let _ = server.wait();
    wait_no_postmaster(&cluster).await;
    let port = free_port();
    let mut server = serve(&data, port);
    wait_healthy(port).await;
    let tenants: Value = client
        .get(format!("http://127.0.0.1:{port}/admin/v1/tenants"))
        .bearer_auth("cli-admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tenants.as_array().unwrap().len(), 2);

    // SIGTERM: graceful exit, cluster stopped.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = server.wait().unwrap();
    assert!(status.success(), "{status:?}");
    wait_no_postmaster(&cluster).await;

    // demo prints credentials and curl lines, twice the same.
    let out = cmd(&data).arg("demo").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("demo-apps-token") && text.matches("curl ").count() >= 5, "{text}");
    let again = cmd(&data).arg("demo").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&again.stdout), text);
}
