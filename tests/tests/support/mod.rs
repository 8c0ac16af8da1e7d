//! The end-to-end harness: a fresh database per test, the real `payments` and `bank-sim`
//! binaries on free ports, a webhook receiver, and pollers. Each test file uses a subset.
//!
//! Needs `DATABASE_URL` (a server where its role may create databases; `make test` sets it via
//! `scripts/pg-up.sh`) and the binaries in `target/debug` (`make build`) or `$OWSO_BIN_DIR`.
//! Child output goes to `target/e2e-logs/<test>-<binary>.log`; its tail is printed when a test
//! fails. Set `OWSO_KEEP_TEST_DB=1` to keep the test databases for inspection.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::{Connection as _, PgConnection};
use tokio::io::AsyncWriteExt as _;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

pub mod browser;
pub mod console;

/// How long a binary may take to print its "listening on http://ADDR" line.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a CLI call (migrate, seed, keys create, ...) may take.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(120);
/// The sandbox callback secret shared by the stack's `payments` and `bank-sim`.
pub const SANDBOX_SECRET: &str = "e2e-sandbox-callback-secret";

/// Configuration a developer's shell may carry; children never inherit it, so that a test only
/// ever talks to what it started.
const SCRUBBED_ENV: &[&str] = &[
    "DATABASE_URL",
    "LISTEN_ADDR",
    "PUBLIC_BASE_URL",
    "BANK_SIM_URL",
    "CALLBACK_BASE_URL",
    "SANDBOX_ENABLED",
    "SANDBOX_CALLBACK_SECRET",
    "SANDBOX_API_URL",
    "SIM_CALLBACK_RETRY_MS",
    "OWSO_ENV",
    "SECRETS_KEY",
    "SECRETS_KEY_OLD",
    "LEDGER_SIGNING_KEY",
    "LEDGER_PUBLIC_KEYS",
    "MIGRATION_DATABASE_URL",
    "BAKONG_API_URL",
    "BAKONG_API_TOKEN",
];

// ---------------------------------------------------------------------------------------------
// Paths, names, ports

/// The workspace root (the parent of the `tests` package).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package lives inside the workspace")
        .to_path_buf()
}

/// `$CARGO_TARGET_DIR` (relative to the workspace if relative) or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => workspace_dir().join(dir),
        None => workspace_dir().join("target"),
    }
}

/// Path of a workspace binary: `$OWSO_BIN_DIR/<name>` or `<target>/debug/<name>`.
/// Panics with instructions when it has not been built.
pub fn bin_path(name: &str) -> PathBuf {
    let dir = match std::env::var_os("OWSO_BIN_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => target_dir().join("debug"),
    };
    let path = dir.join(name);
    if !path.is_file() {
        panic!(
            "binary `{name}` not found at {}: run `make build` or `cargo build --workspace --bins` first \
             (or point OWSO_BIN_DIR at a directory holding it)",
            path.display()
        );
    }
    path
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, release it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// A file-name-safe label for the running test: libtest names each test's thread after the
/// test; otherwise (a multi-thread runtime worker, `--test-threads=1`) the test binary's name.
pub fn test_label() -> String {
    let thread = std::thread::current();
    let raw = match thread.name() {
        Some(name) if name != "main" && !name.starts_with("tokio-") => name.to_owned(),
        _ => std::env::current_exe()
            .ok()
            .and_then(|exe| {
                exe.file_stem()
                    .map(|stem| stem.to_string_lossy().into_owned())
            })
            .map(|stem| match stem.rsplit_once('-') {
                Some((name, _hash)) => name.to_owned(),
                None => stem,
            })
            .unwrap_or_else(|| "e2e".to_owned()),
    };
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `target/e2e-logs/<test>-<name>.log`, with `-2`, `-3`, ... when this test process already
/// used the name (several instances of one binary in one test).
fn log_path_for(name: &str) -> PathBuf {
    static USED: Mutex<BTreeMap<String, u32>> = Mutex::new(BTreeMap::new());
    let dir = target_dir().join("e2e-logs");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let base = format!("{}-{name}", test_label());
    let mut used = USED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let count = used.entry(base.clone()).or_insert(0);
    *count += 1;
    if *count == 1 {
        dir.join(format!("{base}.log"))
    } else {
        dir.join(format!("{base}-{count}.log"))
    }
}

/// The last `lines` lines of a file (for failure messages).
fn tail_of(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db` for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The same server URL with another database name (the query string is kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or_else(|| {
        panic!(
            "DATABASE_URL must be a URL like postgres://user@host:port/db, got {}",
            redact(url)
        )
    });
    let (before_query, query) = match rest.find('?') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let authority = before_query.split('/').next().unwrap_or_default();
    format!("{scheme}://{authority}/{database}{query}")
}

// ---------------------------------------------------------------------------------------------
// A fresh database per test

/// A database `owso_e2e_<uuid>` created on `DATABASE_URL`'s server and dropped (WITH (FORCE))
/// when this value is dropped, also when the test panics.
pub struct TestDb {
    /// URL of the fresh database, for `DATABASE_URL` of the binaries.
    pub url: String,
    pub name: String,
    admin_url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let admin_url = std::env::var("DATABASE_URL").ok().filter(|url| !url.trim().is_empty()).unwrap_or_else(|| {
            panic!(
                "DATABASE_URL is not set: the e2e tests need a PostgreSQL server whose role may create databases. \
                 Run `make test`, or `export DATABASE_URL=$(scripts/pg-up.sh)` and then `cargo test`."
            )
        });
        TestDb::create_on(&admin_url).await
    }

    /// Like [`TestDb::create`] on another server than `DATABASE_URL`'s (a [`PrivateCluster`]
    /// that a crash test may restart without disturbing the other tests).
    pub async fn create_on(admin_url: &str) -> TestDb {
        let admin_url = admin_url.to_owned();
        let name = format!("owso_e2e_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("cannot connect to DATABASE_URL {}: {e}", redact(&admin_url))
        });
        sqlx::raw_sql(&format!("create database {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "creating database {name} on {}: {e} (does the role have CREATEDB?)",
                    redact(&admin_url)
                )
            });
        let _ = conn.close().await;
        let url = with_database(&admin_url, &name);
        TestDb {
            url,
            name,
            admin_url,
        }
    }

    /// A small pool on the test database, for assertions straight in SQL.
    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.name))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var_os("OWSO_KEEP_TEST_DB").is_some() {
            eprintln!(
                "OWSO_KEEP_TEST_DB is set: keeping test database {} ({})",
                self.name,
                redact(&self.url)
            );
            return;
        }
        // Drop runs inside the test's runtime, which cannot block on itself: do the cleanup on
        // a thread with its own runtime and wait for it (bounded; best effort).
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| {
                    runtime.block_on(async {
                        let mut conn = PgConnection::connect(&admin_url).await?;
                        sqlx::raw_sql(&format!("drop database if exists {name} with (force)"))
                            .execute(&mut conn)
                            .await?;
                        let _ = conn.close().await;
                        anyhow::Ok(())
                    })
                });
            let _ = done_tx.send(result);
        });
        match done_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!(
                "warning: dropping test database {} took over 30 s; left behind",
                self.name
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Child processes

/// A running binary whose stdout and stderr go to a log file. Killed (SIGKILL) when dropped;
/// when the test is panicking the log's tail is printed.
pub struct Proc {
    pub name: String,
    /// `http://ADDR` from the binary's "listening on http://ADDR" line.
    pub url: String,
    pub log_path: PathBuf,
    child: Child,
    pumps: Vec<std::thread::JoinHandle<()>>,
}

/// Why a binary did not come up.
#[derive(Debug)]
pub enum SpawnError {
    /// It exited (or closed stdout) before printing its listening line.
    Exited(String),
    /// It printed nothing useful within [`START_TIMEOUT`].
    TimedOut(String),
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::Exited(message) | SpawnError::TimedOut(message) => f.write_str(message),
        }
    }
}

/// Copies lines from a child's pipe to the shared log on a plain thread (so the child never
/// blocks on a full pipe, whatever the test's runtime is doing); the first
/// "listening on http://" line of stdout is reported through `listening`.
fn pump(
    pipe: std::fs::File,
    stream: &'static str,
    log: Arc<Mutex<std::fs::File>>,
    mut listening: Option<oneshot::Sender<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(pipe);
        let mut raw = Vec::new();
        while matches!(reader.read_until(b'\n', &mut raw), Ok(n) if n > 0) {
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Ok(mut file) = log.lock() {
                let _ = writeln!(file, "[{stream}] {line}");
            }
            if let Some(at) = line.find("listening on http://") {
                if let Some(sender) = listening.take() {
                    let url = line[at + "listening on ".len()..]
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .trim_end_matches('/')
                        .to_owned();
                    let _ = sender.send(url);
                }
            }
            raw.clear();
        }
    })
}

/// A command for a workspace binary: run from the workspace root, without the inherited
/// [`SCRUBBED_ENV`], in the development profile (`OWSO_ENV=development`; `envs` may say
/// otherwise), with plain (uncoloured) logs, stdout and stderr piped, killed on drop.
fn command_for(path: &Path, args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(path);
    for name in SCRUBBED_ENV {
        command.env_remove(name);
    }
    command
        .env("NO_COLOR", "1")
        .env("OWSO_ENV", "development")
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(workspace_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A child's pipe as a blocking file for [`pump`].
fn into_file(fd: std::io::Result<std::os::fd::OwnedFd>) -> std::fs::File {
    std::fs::File::from(fd.expect("a child's pipe as a file descriptor"))
}

impl Proc {
    /// Starts `bin` (a workspace binary, see [`bin_path`]) with `args` and `envs` and waits up to
    /// [`START_TIMEOUT`] for its "listening on http://ADDR" line. Panics if it does not come up.
    pub async fn spawn(bin: &str, args: &[&str], envs: &[(&str, &str)]) -> Proc {
        Proc::try_spawn(bin, args, envs)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Proc::spawn`] but returns why it failed (e.g. to retry on a port taken meanwhile).
    pub async fn try_spawn(
        bin: &str,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Result<Proc, SpawnError> {
        let path = bin_path(bin);
        let log_path = log_path_for(bin);
        let mut file = std::fs::File::create(&log_path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", log_path.display()));
        let _ = writeln!(file, "$ {} {}", path.display(), args.join(" "));
        let log = Arc::new(Mutex::new(file));

        let mut command = command_for(&path, args, envs);
        command.stdin(Stdio::null());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", path.display()));
        let (listening_tx, listening_rx) = oneshot::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let pumps = vec![
            pump(
                into_file(stdout.into_owned_fd()),
                "out",
                log.clone(),
                Some(listening_tx),
            ),
            pump(into_file(stderr.into_owned_fd()), "err", log, None),
        ];

        let outcome = tokio::select! {
            biased;
            url = listening_rx => url.map_err(|_| "closed its stdout".to_owned()),
            status = child.wait() => Err(match status {
                Ok(status) => format!("exited with {status}"),
                Err(e) => format!("could not be waited for: {e}"),
            }),
            () = tokio::time::sleep(START_TIMEOUT) => {
                Err(format!("printed no \"listening on http://\" line within {} s", START_TIMEOUT.as_secs()))
            }
        };
        let mut proc = Proc {
            name: bin.to_owned(),
            url: String::new(),
            log_path,
            child,
            pumps,
        };
        match outcome {
            Ok(url) => {
                proc.url = url;
                Ok(proc)
            }
            Err(reason) => {
                let timed_out = reason.starts_with("printed no");
                proc.kill9().await;
                let message = format!(
                    "{bin} {} {reason}; log {}:\n{}",
                    args.join(" "),
                    proc.log_path.display(),
                    tail_of(&proc.log_path, 40)
                );
                Err(if timed_out {
                    SpawnError::TimedOut(message)
                } else {
                    SpawnError::Exited(message)
                })
            }
        }
    }

    /// SIGKILL, then reap; the log is complete afterwards. For crash tests.
    pub async fn kill9(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        // The pumps end at EOF, once the pipes close (bounded: a grandchild could hold them).
        let pumps = std::mem::take(&mut self.pumps);
        wait_until(Duration::from_secs(5), || {
            let done = pumps.iter().all(std::thread::JoinHandle::is_finished);
            async move { done }
        })
        .await;
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits up to `timeout` for the process to exit on its own.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Everything the process wrote so far (e.g. to check that secrets never reach the logs).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- {} log: {} (last 60 lines)\n{}\n---",
                self.name,
                self.log_path.display(),
                tail_of(&self.log_path, 60)
            );
        }
    }
}

/// Runs a CLI command (`payments migrate`, `seed`, `keys create`, ...) to completion:
/// (exit code, stdout, stderr); a signal death is exit code -1. Panics after [`CLI_TIMEOUT`].
pub async fn run_to_completion(
    bin: &str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (i32, String, String) {
    run_with_stdin(bin, args, envs, None).await
}

/// Like [`run_to_completion`], writing `stdin` to the command's standard input first.
pub async fn run_with_stdin(
    bin: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> (i32, String, String) {
    let path = bin_path(bin);
    let mut command = command_for(&path, args, envs);
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", path.display()));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input)
            .await
            .unwrap_or_else(|e| panic!("writing stdin of {bin}: {e}"));
        drop(pipe);
    }
    let output = tokio::time::timeout(CLI_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "`{bin} {}` did not finish within {} s",
                args.join(" "),
                CLI_TIMEOUT.as_secs()
            )
        })
        .unwrap_or_else(|e| panic!("waiting for `{bin} {}`: {e}", args.join(" ")));
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// The whole stack

/// `payments serve` and `bank-sim` wired to each other on a migrated, demo-seeded test database.
pub struct Stack {
    pub payments_url: String,
    pub bank_sim_url: String,
    /// One demo key per role (the office-unscoped one when the seed has several for a role).
    pub keys: HashMap<String, String>,
    /// The whole JSON that `payments seed --demo` printed (offices, every key with its offices).
    pub seed: serde_json::Value,
    pub http: reqwest::Client,
    pub procs: Vec<Proc>,
    pub database_url: String,
    /// `SANDBOX_CALLBACK_SECRET` of both binaries (to sign sandbox callbacks by hand).
    pub sandbox_secret: String,
    payments_envs: Vec<(String, String)>,
}

/// [`start_stack_with`] without extra settings.
pub async fn start_stack(db: &TestDb) -> Stack {
    start_stack_with(db, &[]).await
}

/// Migrates and seeds `db`, then starts `bank-sim` and `payments serve` on free ports
/// (`SANDBOX_ENABLED=true`, callbacks wired both ways). `payments_envs` are extra settings for
/// `payments serve` (e.g. short worker intervals) and override the defaults here.
pub async fn start_stack_with(db: &TestDb, payments_envs: &[(&str, &str)]) -> Stack {
    start_stack_calling_back(db, payments_envs, None).await
}

/// Like [`start_stack_with`], but bank-sim's callbacks go to `callback_base_url` (a
/// [`LoadBalancer`] in front of several instances) instead of the first instance.
pub async fn start_stack_calling_back(
    db: &TestDb,
    payments_envs: &[(&str, &str)],
    callback_base_url: Option<&str>,
) -> Stack {
    let db_env = [("DATABASE_URL", db.url.as_str())];
    let (code, stdout, stderr) = run_to_completion("payments", &["migrate"], &db_env).await;
    assert_eq!(
        code, 0,
        "`payments migrate` failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let (code, stdout, stderr) = run_to_completion("payments", &["seed", "--demo"], &db_env).await;
    assert_eq!(
        code, 0,
        "`payments seed --demo` failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let seed = parse_seed(&stdout).unwrap_or_else(|| {
        panic!("`payments seed --demo` printed no JSON object with \"keys\" on stdout\nstdout:\n{stdout}\nstderr:\n{stderr}")
    });
    let keys = demo_keys(&seed);

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("building the HTTP client");
    let mut stack = Stack {
        payments_url: String::new(),
        bank_sim_url: String::new(),
        keys,
        seed,
        http,
        procs: Vec::new(),
        database_url: db.url.clone(),
        sandbox_secret: SANDBOX_SECRET.to_owned(),
        payments_envs: payments_envs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };

    // free_port() can race with another test taking the port before the child binds it:
    // retry with fresh ports when a child exits complaining about an address in use.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let payments_addr = format!("127.0.0.1:{}", free_port());
        let bank_addr = format!("127.0.0.1:{}", free_port());
        let payments_url = format!("http://{payments_addr}");
        let bank_url = format!("http://{bank_addr}");
        let bank = Proc::try_spawn(
            "bank-sim",
            &[],
            &[
                ("LISTEN_ADDR", &bank_addr),
                ("PUBLIC_BASE_URL", &bank_url),
                (
                    "CALLBACK_BASE_URL",
                    callback_base_url.unwrap_or(&payments_url),
                ),
                ("SANDBOX_CALLBACK_SECRET", SANDBOX_SECRET),
            ],
        )
        .await;
        let bank = match bank {
            Ok(bank) => bank,
            Err(e) if attempt < 3 && is_addr_in_use(&e) => continue,
            Err(e) => panic!("{e}"),
        };
        stack.bank_sim_url = bank.url.clone();
        match stack.try_spawn_payments(&payments_addr).await {
            Ok(payments) => {
                stack.payments_url = payments.url.clone();
                stack.procs.push(bank);
                stack.procs.push(payments);
                break;
            }
            Err(e) if attempt < 3 && is_addr_in_use(&e) => continue,
            Err(e) => panic!("{e}"),
        }
    }

    for url in [stack.payments_url.clone(), stack.bank_sim_url.clone()] {
        let http = stack.http.clone();
        let healthz = format!("{url}/healthz");
        let healthy = wait_until(Duration::from_secs(10), || {
            let http = http.clone();
            let healthz = healthz.clone();
            async move { matches!(http.get(&healthz).send().await, Ok(response) if response.status().is_success()) }
        })
        .await;
        assert!(healthy, "GET {healthz} did not answer 2xx within 10 s");
    }
    stack
}

fn is_addr_in_use(error: &SpawnError) -> bool {
    matches!(error, SpawnError::Exited(message) if message.to_ascii_lowercase().contains("in use"))
}

/// The seed's JSON: all of stdout, or else its last line that parses as an object with "keys".
fn parse_seed(stdout: &str) -> Option<serde_json::Value> {
    let has_keys =
        |value: &serde_json::Value| value.get("keys").is_some_and(serde_json::Value::is_array);
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(stdout.trim()) {
        if has_keys(&value) {
            return Some(value);
        }
    }
    stdout
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line.trim()).ok())
        .find(has_keys)
}

/// role → key; per role the key without offices wins, else the first one listed.
fn demo_keys(seed: &serde_json::Value) -> HashMap<String, String> {
    let mut chosen: HashMap<String, (String, bool)> = HashMap::new();
    for entry in seed["keys"].as_array().into_iter().flatten() {
        let (Some(role), Some(key)) = (entry["role"].as_str(), entry["key"].as_str()) else {
            continue;
        };
        let unscoped = entry["office_codes"].as_array().is_none_or(Vec::is_empty);
        match chosen.get(role) {
            Some((_, true)) => {}
            Some((_, false)) if !unscoped => {}
            _ => {
                chosen.insert(role.to_owned(), (key.to_owned(), unscoped));
            }
        }
    }
    chosen
        .into_iter()
        .map(|(role, (key, _))| (role, key))
        .collect()
}

impl Stack {
    /// The demo key of `role`; panics naming the roles the seed printed.
    pub fn key(&self, role: &str) -> &str {
        self.keys.get(role).map(String::as_str).unwrap_or_else(|| {
            let mut roles: Vec<&String> = self.keys.keys().collect();
            roles.sort();
            panic!("the demo seed printed no key for role {role:?}; roles: {roles:?}")
        })
    }

    /// The demo key of `role` scoped to exactly `office` (for office-isolation tests).
    pub fn office_key(&self, role: &str, office: &str) -> Option<String> {
        self.seed["keys"].as_array()?.iter().find_map(|entry| {
            let offices = entry["office_codes"].as_array()?;
            (entry["role"] == role && offices.len() == 1 && offices[0] == office)
                .then(|| entry["key"].as_str().map(str::to_owned))
                .flatten()
        })
    }

    /// `payments_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.payments_url)
    }

    /// A fresh payment intent of office 0320 for `case_reference` (one fixed-price service,
    /// 600000 KHR), made through the first instance's API: its JSON, `pay_url` included.
    pub async fn pending_intent(&self, case_reference: &str) -> serde_json::Value {
        let quote = self
            .post_as_workflow(
                "/v1/quotes",
                None,
                serde_json::json!({"office_code": "0320", "items": [{"service_code": "labour.internal_regulations_8_100", "quantity": 1}]}),
            )
            .await;
        let intent = self
            .post_as_workflow(
                "/v1/payment-intents",
                Some(format!("intent-{case_reference}")),
                serde_json::json!({"quote_id": quote["id"], "case_reference": case_reference}),
            )
            .await;
        assert!(intent["id"].is_string(), "no intent: {intent}");
        intent
    }

    /// The pay link (`pay_url`) of a fresh pending intent for `case_reference`.
    pub async fn pay_link(&self, case_reference: &str) -> String {
        let intent = self.pending_intent(case_reference).await;
        intent["pay_url"]
            .as_str()
            .unwrap_or_else(|| panic!("the intent has no pay_url: {intent}"))
            .to_owned()
    }

    async fn post_as_workflow(
        &self,
        path: &str,
        idempotency_key: Option<String>,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let mut request = self
            .http
            .post(self.url(path))
            .bearer_auth(self.key("workflow"))
            .json(&body);
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    /// A pending sandbox attempt of a fresh intent of office 0320 (one fixed-price service),
    /// made through the first instance's API: (intent id, provider reference).
    pub async fn pending_attempt(&self, case_reference: &str) -> (String, String) {
        let intent = self.pending_intent(case_reference).await;
        let intent_id = intent["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no intent: {intent}"))
            .to_owned();
        let attempt = self
            .post_as_workflow(
                &format!("/v1/payment-intents/{intent_id}/attempts"),
                Some(format!("attempt-{case_reference}")),
                serde_json::json!({"channel": "sandbox"}),
            )
            .await;
        let reference = attempt["provider_reference"]
            .as_str()
            .unwrap_or_else(|| panic!("no attempt: {attempt}"))
            .to_owned();
        (intent_id, reference)
    }

    /// A client of the workflow API at `payments_url` that does not borrow the stack (so that
    /// load tasks can call while the test kills and restarts instances).
    pub fn workflow(&self) -> WorkflowClient {
        WorkflowClient {
            http: self.http.clone(),
            base_url: self.payments_url.clone(),
            key: self.key("workflow").to_owned(),
        }
    }

    /// Pays sandbox attempt `reference` at bank-sim as the payer would; `body` is the pay
    /// request (`{}` pays the amount asked). Panics naming bank-sim's answer if it refuses.
    pub async fn pay_at_sandbox(&self, reference: &str, body: serde_json::Value) {
        let paid = self
            .http
            .post(format!(
                "{}/sandbox/payments/{reference}/pay",
                self.bank_sim_url
            ))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = paid.status();
        assert!(
            status.is_success(),
            "paying {reference}: {status} {}",
            paid.text().await.unwrap_or_default()
        );
    }

    /// Waits (15 s at most) until intent `intent_id` is `paid`; panics naming it otherwise.
    pub async fn wait_paid(&self, intent_id: &str) {
        let paid = wait_for_some(Duration::from_secs(15), || async {
            let intent: serde_json::Value = self
                .http
                .get(self.url(&format!("/v1/payment-intents/{intent_id}")))
                .bearer_auth(self.key("workflow"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (intent["status"] == "paid").then_some(())
        })
        .await;
        assert!(
            paid.is_some(),
            "intent {intent_id} was not paid within 15 s"
        );
    }

    /// A further `payments serve` on the same database and bank-sim (several instances must
    /// stay correct). Returns its base URL; the process joins `procs`. bank-sim keeps calling
    /// back the first instance.
    pub async fn add_payments_instance(&mut self) -> String {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let addr = format!("127.0.0.1:{}", free_port());
            match self.try_spawn_payments(&addr).await {
                Ok(payments) => {
                    let url = payments.url.clone();
                    self.procs.push(payments);
                    return url;
                }
                Err(e) if attempt < 3 && is_addr_in_use(&e) => continue,
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Starts `payments serve` again at `addr` (after the instance there was killed), so that
    /// bank-sim's callbacks reach it. Returns its base URL; the process joins `procs`.
    pub async fn restart_payments_at(&mut self, addr: &str) -> String {
        let payments = self
            .try_spawn_payments(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let url = payments.url.clone();
        self.procs.push(payments);
        url
    }

    async fn try_spawn_payments(&self, addr: &str) -> Result<Proc, SpawnError> {
        let public_url = format!("http://{addr}");
        let mut envs: Vec<(&str, &str)> = vec![
            ("DATABASE_URL", &self.database_url),
            ("LISTEN_ADDR", addr),
            ("PUBLIC_BASE_URL", &public_url),
            ("SANDBOX_ENABLED", "true"),
            ("BANK_SIM_URL", &self.bank_sim_url),
            ("SANDBOX_CALLBACK_SECRET", &self.sandbox_secret),
            // Tests run in parallel against one server (max_connections is often 100): 2 of
            // these for settlement and workers, 4 for the HTTP routes.
            ("DB_MAX_CONNECTIONS", "6"),
            ("DB_WORKER_CONNECTIONS", "2"),
            // Many instances run at once: each takes a free port for /metrics.
            ("METRICS_LISTEN_ADDR", "127.0.0.1:0"),
            // Load tests send many requests from loopback; the limits have their own API test.
            ("RATE_LIMIT_ADDRESS_PER_MIN", "0"),
            ("RATE_LIMIT_CALLBACK_ADDRESS_PER_MIN", "0"),
            ("RATE_LIMIT_TOKEN_PER_MIN", "0"),
        ];
        envs.extend(
            self.payments_envs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        Proc::try_spawn("payments", &["serve"], &envs).await
    }
}

/// The workflow API as a client sees it, errors included: [`WorkflowClient::try_post`] reports
/// a failed call instead of panicking, so that a load test can retry what a real workflow
/// system would retry.
#[derive(Clone)]
pub struct WorkflowClient {
    pub http: reqwest::Client,
    pub base_url: String,
    pub key: String,
}

/// A workflow call that did not succeed: the HTTP status (`None`: no answer at all) and why.
#[derive(Debug, Clone)]
pub struct CallFailure {
    pub status: Option<u16>,
    pub message: String,
}

impl CallFailure {
    /// Worth retrying with the same idempotency key: no answer (a dead instance, a reset
    /// connection), a 5xx, or a twin request still in progress (409 that says so).
    pub fn transient(&self) -> bool {
        match self.status {
            None => true,
            Some(status) if status >= 500 => true,
            Some(409) => self.message.contains("idempotency_request_in_progress"),
            Some(_) => false,
        }
    }
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "HTTP {status}: {}", self.message),
            None => write!(f, "no answer: {}", self.message),
        }
    }
}

impl WorkflowClient {
    /// POST `path` as the workflow key; the JSON of a 2xx answer.
    pub async fn try_post(
        &self,
        path: &str,
        idempotency_key: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, CallFailure> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(&self.key)
            .json(body);
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.map_err(|e| CallFailure {
            status: None,
            message: format!("{e:?}"),
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| CallFailure {
            status: None,
            message: format!("reading the answer: {e:?}"),
        })?;
        if !status.is_success() {
            return Err(CallFailure {
                status: Some(status.as_u16()),
                message: text,
            });
        }
        serde_json::from_str(&text).map_err(|e| CallFailure {
            status: Some(status.as_u16()),
            message: format!("not JSON ({e}): {text}"),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Crash tests: a private PostgreSQL and a load balancer

/// A PostgreSQL cluster of this test alone, in a temporary directory on a free port, so that a
/// crash test can kill and restart the server (`pg_ctl -m immediate`) without touching the
/// server the other tests share. Stopped (immediate) and removed when dropped; its server log
/// is copied to `target/e2e-logs/<test>-postgres.log` first. The directory,
/// `$TMPDIR/owso-private-pg-<test process id>-<uuid>`, names its test process: a cluster whose
/// process died without dropping it (SIGKILL, a timeout) is removed by the next `start`.
///
/// The binaries come from `$PG_BIN_DIR`, else the newest `/usr/lib/postgresql/*/bin` (Debian's
/// layout; `scripts/pg-up.sh` installs them). The server runs as the `postgres` OS user when
/// the test runs as root (PostgreSQL refuses to run as root), trusting local connections of
/// role `postgres`.
pub struct PrivateCluster {
    pub port: u16,
    /// The temporary directory: `data/` (the cluster), the Unix socket, `postgres.log`.
    pub dir: PathBuf,
    bin_dir: PathBuf,
}

impl PrivateCluster {
    /// initdb into a fresh temporary directory and start the server on a free port.
    pub async fn start() -> PrivateCluster {
        let bin_dir = pg_bin_dir();
        remove_orphaned_clusters(&bin_dir);
        let dir = std::env::temp_dir().join(format!(
            "{ORPHAN_PREFIX}{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        if running_as_root() {
            let uid = id_of("-u");
            let gid = id_of("-g");
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown postgres {}: {e}", dir.display()));
        }
        let cluster = PrivateCluster {
            port: free_port(),
            dir,
            bin_dir,
        };
        let data = cluster.data_dir();
        cluster
            .run(
                "initdb",
                &[
                    "-D",
                    &data,
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "--locale=C",
                    "-E",
                    "UTF8",
                ],
            )
            .await;
        cluster.pg_ctl("start").await;
        cluster
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`, for [`TestDb::create_on`].
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A crash restart: `pg_ctl -m immediate restart` (no checkpoint; every connection is cut
    /// and the server replays its WAL, as after a power loss), waiting until it accepts
    /// connections again.
    pub async fn restart_immediate(&self) {
        self.pg_ctl("restart").await;
    }

    fn data_dir(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    async fn pg_ctl(&self, action: &str) {
        let data = self.data_dir();
        let log = self.dir.join("postgres.log").display().to_string();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-l",
                &log,
                "-o",
                &options,
                "-m",
                "immediate",
                "-w",
                "-t",
                "60",
                action,
            ],
        )
        .await;
    }

    /// Runs a PostgreSQL binary as the cluster's owner; panics with its output if it fails.
    async fn run(&self, bin: &str, args: &[&str]) {
        let path = self.bin_dir.join(bin);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        // pg_ctl's server keeps no pipe of ours open: its output goes to -l.
        let output = command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap_or_else(|e| panic!("starting {}: {e}", path.display()));
        assert!(
            output.status.success(),
            "{bin} {} failed ({}):\n{}\n{}\nserver log:\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            tail_of(&self.dir.join("postgres.log"), 30)
        );
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        stop_and_remove(&self.bin_dir, &self.dir, Some(&log_path_for("postgres")));
    }
}

/// A private cluster's directory name: the prefix, the test process's id, a UUID.
const ORPHAN_PREFIX: &str = "owso-private-pg-";

/// Stops (immediate) and removes the private clusters of test processes that no longer run:
/// a drill killed by a timeout or ^C never ran its `Drop`, and would leave a server behind.
fn remove_orphaned_clusters(bin_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(ORPHAN_PREFIX)
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!(
                "removing the private PostgreSQL of process {pid}, which is gone: {}",
                entry.path().display()
            );
            stop_and_remove(bin_dir, &entry.path(), None);
        }
    }
}

/// `pg_ctl stop -m immediate` on `dir/data` (as the cluster's owner), copies its server log to
/// `keep_log` if given, and removes `dir`. Best effort: warns, never panics (runs in `Drop`).
fn stop_and_remove(bin_dir: &Path, dir: &Path, keep_log: Option<&Path>) {
    let data = dir.join("data").display().to_string();
    let path = bin_dir.join("pg_ctl");
    let mut command = if running_as_root() {
        let mut command = std::process::Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(&path);
        command
    } else {
        std::process::Command::new(&path)
    };
    let stopped = command
        .args(["-D", &data, "-m", "immediate", "-w", "stop"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(stopped, Ok(status) if status.success()) {
        // Also when the server was not running any more.
        eprintln!("note: pg_ctl stop on {data}: {stopped:?}");
    }
    if let Some(keep) = keep_log {
        let _ = std::fs::copy(dir.join("postgres.log"), keep);
    }
    if let Err(e) = std::fs::remove_dir_all(dir) {
        eprintln!("warning: could not remove {}: {e}", dir.display());
    }
}

/// `$PG_BIN_DIR`, else the newest `/usr/lib/postgresql/<major>/bin` holding `pg_ctl`.
fn pg_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BIN_DIR").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!("no PostgreSQL binaries in /usr/lib/postgresql/*/bin: run scripts/pg-up.sh (installs them) or set PG_BIN_DIR")
    })
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// `id -u postgres` or `id -g postgres`.
fn id_of(flag: &str) -> u32 {
    let output = std::process::Command::new("id")
        .args([flag, "postgres"])
        .output()
        .unwrap_or_else(|e| panic!("running id: {e}"));
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no OS user `postgres` (id {flag} postgres failed): install PostgreSQL with scripts/pg-up.sh"))
}

/// A round-robin TCP load balancer on 127.0.0.1: each connection goes to the next backend and
/// is copied both ways until either side closes. A backend that refuses the connection (a
/// killed instance) makes the balancer close the client's connection, so the client sees a
/// failed request, as a real balancer's 502 would show it; the next connection tries the next
/// backend. Backends may be set after start (bank-sim needs the balancer's URL before the
/// instances exist). Stops accepting when dropped.
pub struct LoadBalancer {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    backends: Arc<Mutex<Vec<String>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl LoadBalancer {
    pub async fn start() -> LoadBalancer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the load balancer");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the balancer's address")
        );
        let backends: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
        let shared = backends.clone();
        let accept = tokio::spawn(async move {
            let mut next = 0usize;
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    // Out of file descriptors, say: wait rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let backend = {
                    let backends = shared.lock().unwrap_or_else(|p| p.into_inner());
                    if backends.is_empty() {
                        None
                    } else {
                        next = next.wrapping_add(1);
                        backends.get(next % backends.len()).cloned()
                    }
                };
                tokio::spawn(async move {
                    let Some(backend) = backend else { return };
                    // Refused (dead instance): dropping `client` closes it.
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        LoadBalancer {
            url,
            backends,
            accept,
        }
    }

    /// The backends' addresses (`127.0.0.1:PORT`), taken in turn.
    pub fn set_backends(&self, addrs: Vec<String>) {
        *self.backends.lock().unwrap_or_else(|p| p.into_inner()) = addrs;
    }
}

impl Drop for LoadBalancer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// Webhooks

// The receiver lives in the library (src/receiver.rs), shared with payments' API tests.
pub use e2e::{standard_webhook_signature, Replies, WebhookReceiver};

/// `X-Sandbox-Signature` of a sandbox bank callback: hex HMAC-SHA256(secret, raw body).
pub fn sandbox_signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Polling

/// Polls `condition` every 50 ms until it returns true (→ true) or `timeout` passes (→ false).
pub async fn wait_until<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `probe` every 50 ms until it yields `Some` (→ that value) or `timeout` passes (→ None).
pub async fn wait_for_some<T, F, Fut>(timeout: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
