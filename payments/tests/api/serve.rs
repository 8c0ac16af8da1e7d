//! The server loop (`payments::http::serve`): a slow client is disconnected, connections are
//! capped, shutdown drains in-flight requests and ends within its deadline.

use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use payments::http::serve::{serve, ServeLimits};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

struct Server {
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    /// One message per request to /slow when it starts.
    started: mpsc::UnboundedReceiver<()>,
}

async fn start(limits: ServeLimits, slow: Duration) -> Server {
    let (started_tx, started) = mpsc::unbounded_channel();
    let router = Router::new().route("/ok", get(|| async { "ok" })).route(
        "/slow",
        get(move || {
            let started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(());
                tokio::time::sleep(slow).await;
                "done"
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, router, limits, async move {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        task,
        started,
    }
}

fn limits(header_read_timeout: Duration, max_connections: usize, drain: Duration) -> ServeLimits {
    ServeLimits {
        header_read_timeout,
        max_connections,
        drain_timeout: drain,
    }
}

/// Reads until the peer closes (or `within` passes: then `None`).
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&seen).into_owned())
}

#[tokio::test]
async fn a_client_trickling_headers_is_disconnected_at_the_header_timeout() {
    let server = start(
        limits(Duration::from_secs(1), 16, Duration::from_secs(1)),
        Duration::ZERO,
    )
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let began = Instant::now();
    stream
        .write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // One header line every 300 ms, for ever: never a complete request head.
    let trickle = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if writer.write_all(b"X-Slow: 1\r\n").await.is_err() {
                return;
            }
        }
    });
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buffer = [0u8; 256];
        let mut seen = Vec::new();
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return seen,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    trickle.abort();
    let seen = closed.expect("the slow client is still connected after 5 s");
    let elapsed = began.elapsed();
    assert!(
        elapsed < Duration::from_secs(3),
        "disconnected after {elapsed:?}"
    );
    assert!(
        !String::from_utf8_lossy(&seen).contains("200 OK"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let server = start(
        limits(Duration::from_secs(20), 2, Duration::from_secs(1)),
        Duration::ZERO,
    )
    .await;
    let first = TcpStream::connect(server.addr).await.unwrap();
    let _second = TcpStream::connect(server.addr).await.unwrap();
    // Let the server take both before the third arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third
        .write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 256];
    let early = tokio::time::timeout(Duration::from_millis(700), third.read(&mut buffer)).await;
    assert!(
        early.is_err(),
        "a third connection was served beyond the cap of 2"
    );
    drop(first);
    let answer = read_to_close(&mut third, Duration::from_secs(5))
        .await
        .expect("the third connection was not served once one closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish_then_stops() {
    let mut server = start(
        limits(Duration::from_secs(10), 16, Duration::from_secs(10)),
        Duration::from_millis(800),
    )
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    server.started.recv().await.unwrap();
    let began = Instant::now();
    server.stop.take().unwrap().send(()).unwrap();
    // The in-flight request is answered in full...
    let answer = read_to_close(&mut stream, Duration::from_secs(5))
        .await
        .expect("the connection was not closed after its answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("done"), "{answer}");
    // ...then the server stops, long before its deadline, and accepts nothing more.
    tokio::time::timeout(Duration::from_secs(3), server.task)
        .await
        .expect("serve did not return after draining")
        .unwrap()
        .unwrap();
    assert!(began.elapsed() < Duration::from_secs(3));
    assert!(TcpStream::connect(server.addr).await.is_err());
}

#[tokio::test]
async fn shutdown_ends_at_the_drain_deadline_whatever_clients_do() {
    let mut server = start(
        limits(Duration::from_secs(30), 16, Duration::from_millis(500)),
        Duration::from_secs(60),
    )
    .await;
    // One request that would take a minute, one client that never finishes its head.
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    server.started.recv().await.unwrap();
    let mut stuck = TcpStream::connect(server.addr).await.unwrap();
    stuck.write_all(b"GET /ok HTTP/1.1\r\n").await.unwrap();
    let began = Instant::now();
    server.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("serve outlived its drain deadline")
        .unwrap()
        .unwrap();
    let elapsed = began.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    // Both connections were cut.
    assert!(read_to_close(&mut slow, Duration::from_secs(2))
        .await
        .is_some());
    assert!(read_to_close(&mut stuck, Duration::from_secs(2))
        .await
        .is_some());
}
