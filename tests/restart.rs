//! A restart right after `kill -9` never attaches to the old, dying embedded cluster: the
//! new process waits for the old postmaster to exit, starts its own, and serves. Five
//! times in a row, each time at once after the kill.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard::db::embedded;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn serve(data_dir: &Path, port: u16) -> Child {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("SWITCHBOARD_ADMIN_TOKEN", "restart-admin")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the server answers a request that needs the database; fails if it exits.
async fn wait_serving(server: &mut Child, port: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    let client = reqwest::Client::new();
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = server.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("server exited during start-up ({status}):\n{err}");
        }
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/admin/v1/tenants"))
            .bearer_auth("restart-admin")
            .send()
            .await
        {
            if r.status() == 200 {
                return r.json().await.unwrap();
            }
        }
        assert!(Instant::now() < deadline, "server did not serve within 90 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_at_once_after_kill_9_five_times() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let port = free_port();
    let mut server = serve(&data, port);
    wait_serving(&mut server, port).await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("http://127.0.0.1:{port}/admin/v1/tenants"))
        .bearer_auth("restart-admin")
        .json(&serde_json::json!({"slug": "acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    for round in 0..5 {
        server.kill().unwrap();
        let _ = server.wait();
        // At once: the old postmaster is still shutting down.
        let port = free_port();
        server = serve(&data, port);
        let tenants = wait_serving(&mut server, port).await;
        assert_eq!(tenants.as_array().map(Vec::len), Some(1), "round {round}: {tenants}");
        // And it stays up: a second request a moment later still works.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(server.try_wait().unwrap().is_none(), "round {round}: server exited");
        let r = client
            .get(format!("http://127.0.0.1:{port}/admin/v1/tenants/acme"))
            .bearer_auth("restart-admin")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "round {round}");
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(server.wait().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while embedded::running(&data.join("pg")).is_some() {
        assert!(Instant::now() < deadline, "postmaster left running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
