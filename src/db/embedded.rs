//! The embedded default: a private PostgreSQL cluster started from the machine's binaries.
//!
//! The cluster lives in `<data-dir>/pg`, listens on a free loopback port and on a Unix
//! socket in `<data-dir>/pg-socket` (mode 0700; switchboard connects through it: a round
//! trip costs both sides less than over TCP), requires a password on both (stored in
//! `<data-dir>/pg-password`, mode 0600) and runs as the `postgres` user when switchboard
//! runs as root (PostgreSQL refuses root). A data dir whose path is too long for a socket
//! address (or holds characters PostgreSQL's list setting cannot take) gets no socket,
//! and connections go over TCP.
//!
//! The postmaster is a child of a dedicated guardian thread that lives exactly as long as
//! the child; the child is started with `PR_SET_PDEATHSIG = SIGINT`, so when switchboard
//! dies for any reason (even `kill -9`) PostgreSQL performs a fast shutdown instead of
//! being left behind, and the next start recovers normally. A second switchboard process
//! on the same data dir (the CLI while a server runs) finds the running postmaster through
//! `postmaster.pid` and attaches to it instead of starting another.
//!
//! It never attaches to a dying cluster: right after a `kill -9` of the process that
//! started it, the postmaster is still shutting down. The starting process records its pid
//! in `<data-dir>/pg-owner`; a postmaster whose parent is no longer that process (it was
//! orphaned, so its parent-death signal is on its way) or whose `postmaster.pid` says
//! `stopping` is waited for until it has exited (and its pid file is gone or stale), and
//! then a new one is started on the same data directory, which recovers normally.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{Pid, User};

/// What can go wrong while bringing the embedded cluster up.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "no PostgreSQL binaries found (looked in --pg-bin/SWITCHBOARD_PG_BIN, PATH and /usr/lib/postgresql/*/bin). \
         Either install PostgreSQL (e.g. `apt-get install postgresql`) or point switchboard at an existing \
         database with DATABASE_URL=postgres://…"
    )]
    NoBinaries,
    #[error("running as root but there is no `postgres` user to run the embedded cluster as; create one or set DATABASE_URL")]
    NoPostgresUser,
    #[error("embedded PostgreSQL: {0}")]
    Io(#[from] std::io::Error),
    #[error("embedded PostgreSQL: {0}")]
    Other(String),
}

/// A running (or attached) embedded cluster.
#[derive(Debug)]
pub struct EmbeddedPg {
    /// Connection URL of the `postgres` maintenance database.
    pub admin_url: String,
    /// Port the postmaster listens on (loopback only).
    pub port: u16,
    /// Whether this process started the postmaster (and so stops it).
    pub owned: bool,
    pid: Option<i32>,
    exited: Option<std::sync::Mutex<mpsc::Receiver<()>>>,
}

/// Options of [`start`].
#[derive(Debug, Clone, Default)]
pub struct EmbeddedOptions {
    pub pg_bin: Option<PathBuf>,
    /// Trade durability for speed (tests): `fsync=off`, `initdb --no-sync`.
    pub fast: bool,
}

const SUPERUSER: &str = "switchboard";

/// Finds the directory of `postgres`/`initdb`: the given one, PATH, then the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_bin(explicit: Option<&Path>) -> Result<PathBuf, EmbeddedError> {
    let ok = |d: &Path| d.join("postgres").is_file() && d.join("initdb").is_file();
    if let Some(d) = explicit {
        return if ok(d) {
            Ok(d.to_path_buf())
        } else {
            Err(EmbeddedError::NoBinaries)
        };
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if ok(&d) {
                return Ok(d);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                    Some((v, e.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by_key(|v| std::cmp::Reverse(v.0));
    versions
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| ok(d))
        .ok_or(EmbeddedError::NoBinaries)
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn pg_user() -> Result<Option<User>, EmbeddedError> {
    if !is_root() {
        return Ok(None);
    }
    match User::from_name("postgres") {
        Ok(Some(u)) => Ok(Some(u)),
        _ => Err(EmbeddedError::NoPostgresUser),
    }
}

fn chown(path: &Path, user: &Option<User>) -> Result<(), EmbeddedError> {
    if let Some(u) = user {
        nix::unistd::chown(path, Some(u.uid), Some(u.gid)).map_err(|e| EmbeddedError::Other(format!("chown {}: {e}", path.display())))?;
    }
    Ok(())
}

fn as_user(cmd: &mut Command, user: &Option<User>) {
    if let Some(u) = user {
        cmd.uid(u.uid.as_raw()).gid(u.gid.as_raw());
    }
}

/// The running postmaster of a cluster directory, if any: (pid, port).
pub fn running(cluster: &Path) -> Option<(i32, u16)> {
    let text = fs::read_to_string(cluster.join("postmaster.pid")).ok()?;
    let mut lines = text.lines();
    let pid: i32 = lines.next()?.trim().parse().ok()?;
    let port: u16 = lines.nth(2)?.trim().parse().ok()?;
    kill(Pid::from_raw(pid), None).ok()?;
    Some((pid, port))
}

/// The file naming the process that started the running postmaster (its parent).
const OWNER_FILE: &str = "pg-owner";

/// The parent pid of `pid` (from `/proc/<pid>/stat`; the field after the `(comm)`).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Whether the postmaster `pid` of `cluster` is on its way out: its pid file says
/// `stopping`, or its parent is not the process recorded as its owner (that process died,
/// and the parent-death signal makes the postmaster shut down).
fn dying(data_dir: &Path, cluster: &Path, pid: i32) -> bool {
    let status = fs::read_to_string(cluster.join("postmaster.pid"))
        .ok()
        .and_then(|t| t.lines().nth(7).map(|l| l.trim().to_string()));
    if status.as_deref() == Some("stopping") {
        return true;
    }
    let owner = fs::read_to_string(data_dir.join(OWNER_FILE))
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok());
    match (owner, parent_of(pid)) {
        (Some(owner), Some(parent)) => parent != owner || kill(Pid::from_raw(owner), None).is_err(),
        _ => false,
    }
}

/// Waits (up to 60 s) until the postmaster `pid` has exited; then, if it is still there,
/// asks it for a fast shutdown and waits another 30 s.
fn wait_for_exit(cluster: &Path, pid: i32) -> Result<(), EmbeddedError> {
    let gone = |limit: Duration| {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if kill(Pid::from_raw(pid), None).is_err() || running(cluster).is_none_or(|(p, _)| p != pid) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    };
    if gone(Duration::from_secs(60)) {
        return Ok(());
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
    if gone(Duration::from_secs(30)) {
        return Ok(());
    }
    Err(EmbeddedError::Other(format!(
        "the previous embedded PostgreSQL (pid {pid}) does not exit; stop it and start again"
    )))
}

/// The directory of the cluster's Unix socket, when its path fits a socket address
/// (`<dir>/.s.PGSQL.<port>` within 107 bytes) and PostgreSQL's list setting can hold it.
fn socket_dir(data_dir: &Path) -> Option<PathBuf> {
    let d = data_dir.join("pg-socket");
    let text = d.to_str()?;
    let fits = text.len() + "/.s.PGSQL.65535".len() <= 107;
    let plain = !text
        .chars()
        .any(|c| c == ',' || c == '"' || c == '\\' || c == '\'' || c.is_whitespace());
    (fits && plain).then_some(d)
}

fn free_port() -> Result<u16, EmbeddedError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn password(data_dir: &Path) -> Result<String, EmbeddedError> {
    let file = data_dir.join("pg-password");
    if let Ok(p) = fs::read_to_string(&file) {
        let p = p.trim().to_string();
        if !p.is_empty() {
            return Ok(p);
        }
    }
    let p = crate::token::random_token(32);
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).open(&file)?;
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    f.write_all(p.as_bytes())?;
    Ok(p)
}

/// Starts (or attaches to) the cluster in `<data_dir>/pg`, initialising it on first use.
pub fn start(data_dir: &Path, opts: &EmbeddedOptions) -> Result<EmbeddedPg, EmbeddedError> {
    fs::create_dir_all(data_dir)?;
    let data_dir = data_dir.canonicalize()?;
    let cluster = data_dir.join("pg");
    let pw = password(&data_dir)?;
    let socket_dir = socket_dir(&data_dir);
    // Through the socket when the postmaster has one there (one started by an older
    // version may not).
    let url = |port: u16| {
        let via = socket_dir
            .as_ref()
            .filter(|d| d.join(format!(".s.PGSQL.{port}")).exists())
            .map(|d| {
                format!(
                    "?host={}",
                    url::form_urlencoded::byte_serialize(d.as_os_str().as_encoded_bytes()).collect::<String>()
                )
            })
            .unwrap_or_default();
        format!("postgres://{SUPERUSER}:{pw}@127.0.0.1:{port}/postgres{via}")
    };

    if let Some((pid, _)) = running(&cluster) {
        if dying(&data_dir, &cluster, pid) {
            tracing::info!(
                pid,
                "the embedded PostgreSQL of a process that is gone is shutting down; waiting for it"
            );
            wait_for_exit(&cluster, pid)?;
        }
    }
    if let Some((pid, port)) = running(&cluster) {
        tracing::info!(pid, port, "attaching to the running embedded PostgreSQL");
        return Ok(EmbeddedPg {
            admin_url: url(port),
            port,
            owned: false,
            pid: None,
            exited: None,
        });
    }

    let bin = find_bin(opts.pg_bin.as_deref())?;
    let user = pg_user()?;
    if user.is_some() {
        // The postgres user must be able to reach the cluster directory.
        let mut p = data_dir.clone();
        loop {
            if let Ok(meta) = fs::metadata(&p) {
                let mode = meta.permissions().mode();
                if mode & 0o001 == 0 && p != Path::new("/") {
                    tracing::debug!(dir = %p.display(), "making directory traversable for the postgres user");
                    let _ = fs::set_permissions(&p, fs::Permissions::from_mode(mode | 0o011));
                }
            }
            if !p.pop() {
                break;
            }
        }
    }

    if !cluster.join("PG_VERSION").exists() {
        tracing::info!(dir = %cluster.display(), bin = %bin.display(), "initialising embedded PostgreSQL cluster");
        if cluster.exists() {
            fs::remove_dir_all(&cluster)?;
        }
        fs::create_dir_all(&cluster)?;
        fs::set_permissions(&cluster, fs::Permissions::from_mode(0o700))?;
        chown(&cluster, &user)?;
        let pwfile = data_dir.join(".pg-initpw");
        fs::write(&pwfile, &pw)?;
        fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o600))?;
        chown(&pwfile, &user)?;
        let mut cmd = Command::new(bin.join("initdb"));
        cmd.arg("-D")
            .arg(&cluster)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--auth=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .current_dir(&data_dir);
        if opts.fast {
            cmd.arg("--no-sync");
        }
        as_user(&mut cmd, &user);
        let out = cmd.output();
        let _ = fs::remove_file(&pwfile);
        let out = out?;
        if !out.status.success() {
            let _ = fs::remove_dir_all(&cluster);
            return Err(EmbeddedError::Other(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }

    let port = free_port()?;
    let sockets = match &socket_dir {
        Some(d) => {
            fs::create_dir_all(d)?;
            fs::set_permissions(d, fs::Permissions::from_mode(0o700))?;
            chown(d, &user)?;
            format!("unix_socket_directories={}", d.display())
        }
        None => "unix_socket_directories=".to_string(),
    };
    let log_path = data_dir.join("postgres.log");
    let log = fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
    chown(&log_path, &user)?;
    let mut cmd = Command::new(bin.join("postgres"));
    cmd.arg("-D")
        .arg(&cluster)
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1", "-c", &sockets, "-c", "max_connections=200"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .current_dir(&cluster)
        .process_group(0);
    if opts.fast {
        cmd.args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
    }
    as_user(&mut cmd, &user);
    // SAFETY: prctl is async-signal-safe; it runs in the child after the uid change
    // (a uid change clears the parent-death signal, so it must come after it).
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Some(Signal::SIGINT)).map_err(std::io::Error::from)?;
            Ok(())
        });
    }

    let (pid_tx, pid_rx) = mpsc::channel::<Result<i32, std::io::Error>>();
    let (exit_tx, exit_rx) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("pg-guardian".into())
        .spawn(move || match cmd.spawn() {
            Ok(mut child) => {
                let _ = pid_tx.send(Ok(child.id() as i32));
                let status = child.wait();
                tracing::info!(?status, "embedded PostgreSQL exited");
                let _ = exit_tx.send(());
            }
            Err(e) => {
                let _ = pid_tx.send(Err(e));
            }
        })?;
    let pid = pid_rx.recv().map_err(|_| EmbeddedError::Other("guardian thread died".into()))??;
    fs::write(data_dir.join(OWNER_FILE), std::process::id().to_string())?;

    // Wait until it accepts TCP connections.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if !matches!(exit_rx.try_recv(), Err(mpsc::TryRecvError::Empty)) {
            let tail = fs::read_to_string(&log_path).unwrap_or_default();
            let tail: String = tail
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            return Err(EmbeddedError::Other(format!("postgres exited during start-up:\n{tail}")));
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && running(&cluster).is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = kill(Pid::from_raw(pid), Signal::SIGQUIT);
            return Err(EmbeddedError::Other("postgres did not start within 60 s".into()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // the socket appears a moment after the TCP port: wait for it briefly
    if let Some(d) = &socket_dir {
        let until = Instant::now() + Duration::from_secs(5);
        while !d.join(format!(".s.PGSQL.{port}")).exists() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    tracing::info!(pid, port, "embedded PostgreSQL started");
    Ok(EmbeddedPg {
        admin_url: url(port),
        port,
        owned: true,
        pid: Some(pid),
        exited: Some(std::sync::Mutex::new(exit_rx)),
    })
}

impl EmbeddedPg {
    /// URL of database `name` on this cluster.
    pub fn url_for(&self, name: &str) -> String {
        let (url, query) = match self.admin_url.split_once('?') {
            Some((u, q)) => (u, format!("?{q}")),
            None => (self.admin_url.as_str(), String::new()),
        };
        match url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}{query}"),
            None => self.admin_url.clone(),
        }
    }

    /// Fast shutdown, waiting for the postmaster to exit (if this process started it).
    pub fn stop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
            if let Some(rx) = self.exited.take() {
                if let Ok(rx) = rx.lock() {
                    let _ = rx.recv_timeout(Duration::from_secs(30));
                }
            }
            tracing::info!("embedded PostgreSQL stopped");
        }
    }
}

impl Drop for EmbeddedPg {
    fn drop(&mut self) {
        self.stop();
    }
}
