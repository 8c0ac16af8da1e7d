//! The real binary's edge: /metrics on its own listener, and SIGTERM ends the service within
//! its drain deadline even while a client holds a connection.

use std::time::{Duration, Instant};

use crate::support::{start_stack_with, TestDb};
use tokio::io::AsyncWriteExt as _;

#[tokio::test]
async fn metrics_have_their_own_listener_and_sigterm_drains_within_the_deadline() {
    let db = TestDb::create().await;
    let mut stack = start_stack_with(&db, &[("SHUTDOWN_DRAIN_S", "2")]).await;
    let payments = stack
        .procs
        .iter()
        .position(|proc| proc.name == "payments")
        .unwrap();

    let public = stack.http.get(stack.url("/metrics")).send().await.unwrap();
    assert_eq!(
        public.status(),
        404,
        "payment volumes on the public listener"
    );
    let log = stack.procs[payments].log_text();
    let metrics_url = log
        .split_whitespace()
        .find(|word| word.starts_with("http://") && word.ends_with("/metrics"))
        .unwrap_or_else(|| panic!("no metrics address in the log:\n{log}"))
        .to_owned();
    assert_ne!(metrics_url, stack.url("/metrics"));
    let metrics = stack
        .http
        .get(&metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("owso_http_requests_total"), "{metrics}");

    // A client that never finishes its request head keeps a connection open.
    let address = stack.payments_url.trim_start_matches("http://").to_owned();
    let mut stuck = tokio::net::TcpStream::connect(&address).await.unwrap();
    stuck.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();

    let pid = stack.procs[payments].pid().unwrap();
    let began = Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = stack.procs[payments]
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("payments still runs 15 s after SIGTERM");
    assert!(status.success(), "{status:?}");
    let elapsed = began.elapsed();
    assert!(elapsed < Duration::from_secs(6), "{elapsed:?}");
    drop(stuck);
}
