//! Load generator for sandbox bank callbacks, end to end over HTTP: a signed
//! `POST /v1/callbacks/sandbox` → signature check → settlement (ledger entry, receipt number,
//! outbox event) → 2xx. Driven by `scripts/bench-callbacks.sh`, which builds and starts a
//! release service for it; it can also be pointed at any running service with the sandbox on.
//!
//! Setup (not timed): one quote per office, then `--intents` payment intents, each with one
//! pending sandbox attempt, created concurrently through the public API. Every attempt gets one
//! callback, prepared and signed before the clock starts: a distinct `transaction_id`, the
//! attempt's `provider_reference` and its exact amount, so every callback settles (`paid`).
//!
//! Warm-up (not timed): `--warmup` more intents (default 1,000) are prepared and their
//! callbacks sent first, closed loop, then `ANALYZE` runs when a database URL is given (as
//! autovacuum would; see [`analyze`]). The measure phase then starts from a service with its
//! connections open and its plans made for tables that hold rows: steady state, as in
//! production, rather than the first seconds of an empty database.
//!
//! Measure: closed loop by default (`--concurrency` workers, each sends the next callback and
//! waits for its answer, for `--seconds`); with `--rate R` an open loop instead (callback `i`
//! is due at `start + i/R` whether or not earlier ones were answered, each in its own task, and
//! its latency counts from when it was due, so a stalled service shows as latency instead of
//! as fewer requests: no coordinated omission). The run stops early, and says so
//! (`"exhausted":true`), when the prepared callbacks run out: give enough `--intents`.
//!
//! Latencies are of 2xx answers only, exact (all kept, sorted; nearest rank). Any other status
//! or a transport failure is an error; the first one is printed to stderr.
//!
//! Check: with `DATABASE_URL` (or `--database-url`), the `payment_confirmed` ledger entries and
//! `payment.paid` outbox events are counted before and after the measure phase; each must grow
//! by exactly the number of 2xx callbacks (`"ledger_check":"ok"`, else `"mismatch"`).
//!
//! ```text
//! bench_callbacks --base-url http://127.0.0.1:18180 --api-key opk_demo_workflow \
//!     --sandbox-secret SECRET --office 0320 --intents 30000 --concurrency 16 --seconds 10 \
//!     [--rate 500] [--json] [--service labour.internal_regulations_8_100]
//!     [--setup-concurrency 32] [--database-url postgres://...]
//! ```
//! `--office` takes a comma-separated list (`0320,1201`): intents are spread over the offices
//! round robin. Output: one JSON line (`--json`) or a short text summary.
// Rates and percentiles are floats by nature (no money here); JSON is read with `value["key"]`,
// which answers Null for a missing key.
#![allow(
    clippy::float_arithmetic,
    clippy::as_conversions,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const DEFAULT_SERVICE: &str = "labour.internal_regulations_8_100";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const SETUP_RETRIES: u32 = 5;

struct Args {
    base_url: String,
    api_key: String,
    sandbox_secret: String,
    offices: Vec<String>,
    service: String,
    intents: usize,
    warmup: usize,
    concurrency: usize,
    setup_concurrency: usize,
    seconds: f64,
    rate: Option<f64>,
    json: bool,
    database_url: Option<String>,
}

const USAGE: &str = "usage: bench_callbacks --base-url URL --api-key KEY --sandbox-secret SECRET \
--office CODE[,CODE...] [--intents N] [--warmup W] [--concurrency C] [--seconds T] [--rate R] [--json] \
[--service CODE] [--setup-concurrency S] [--database-url URL]";

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        base_url: String::new(),
        api_key: String::new(),
        sandbox_secret: String::new(),
        offices: Vec::new(),
        service: DEFAULT_SERVICE.to_owned(),
        intents: 30_000,
        warmup: 1_000,
        concurrency: 16,
        setup_concurrency: 32,
        seconds: 10.0,
        rate: None,
        json: false,
        database_url: std::env::var("DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty()),
    };
    let mut raw = std::env::args().skip(1);
    while let Some(arg) = raw.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        if flag == "--json" {
            args.json = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = match inline {
            Some(value) => value,
            None => raw
                .next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))?,
        };
        let number = |what: &str| -> anyhow::Result<f64> {
            value
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n > 0.0)
                .with_context(|| format!("{what} must be a positive number, not {value:?}"))
        };
        let count = |what: &str| -> anyhow::Result<usize> {
            value
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| format!("{what} must be a whole number ≥ 1, not {value:?}"))
        };
        match flag.as_str() {
            "--base-url" => args.base_url = value.trim_end_matches('/').to_owned(),
            "--api-key" => args.api_key = value,
            "--sandbox-secret" => args.sandbox_secret = value,
            "--office" => {
                args.offices = value
                    .split(',')
                    .map(str::trim)
                    .filter(|code| !code.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "--service" => args.service = value,
            "--intents" => args.intents = count("--intents")?,
            "--warmup" => {
                args.warmup = value
                    .parse::<usize>()
                    .with_context(|| format!("--warmup must be a whole number, not {value:?}"))?;
            }
            "--concurrency" => args.concurrency = count("--concurrency")?,
            "--setup-concurrency" => args.setup_concurrency = count("--setup-concurrency")?,
            "--seconds" => args.seconds = number("--seconds")?,
            "--rate" => args.rate = Some(number("--rate")?),
            "--database-url" => args.database_url = Some(value),
            _ => bail!("unknown argument {flag:?}\n{USAGE}"),
        }
    }
    for (name, value) in [
        ("--base-url", &args.base_url),
        ("--api-key", &args.api_key),
        ("--sandbox-secret", &args.sandbox_secret),
    ] {
        if value.is_empty() {
            bail!("{name} is required\n{USAGE}");
        }
    }
    if args.offices.is_empty() {
        bail!("--office is required\n{USAGE}");
    }
    Ok(args)
}

/// `X-Sandbox-Signature`: hex HMAC-SHA256(secret, raw body).
fn sandbox_signature(secret: &str, body: &[u8]) -> anyhow::Result<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).context("HMAC key")?;
    mac.update(body);
    Ok(mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// One prepared callback: the exact bytes to send and their signature.
struct Callback {
    body: Vec<u8>,
    signature: String,
}

/// POSTs JSON and returns the answer's JSON; retries transport failures, 5xx and 409
/// `idempotency_request_in_progress` (every setup request is idempotent: same key, same body).
async fn post_json(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    idempotency_key: Option<&str>,
    body: &Value,
) -> anyhow::Result<Value> {
    let mut last_error = String::new();
    for attempt in 0..SETUP_RETRIES {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
        let mut request = http.post(url).bearer_auth(key).json(body);
        if let Some(idempotency_key) = idempotency_key {
            request = request.header("idempotency-key", idempotency_key);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                last_error = format!("POST {url}: {error}");
                continue;
            }
        };
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            return serde_json::from_str(&text).with_context(|| {
                format!("POST {url}: {status} with a body that is not JSON: {text}")
            });
        }
        last_error = format!("POST {url}: {status}: {text}");
        let retryable = status.is_server_error()
            || (status == reqwest::StatusCode::CONFLICT
                && text.contains("idempotency_request_in_progress"));
        if !retryable {
            break;
        }
    }
    bail!("{last_error}")
}

/// Quote → intent → sandbox attempt for intent number `index`; returns its signed callback.
async fn prepare_one(
    http: &reqwest::Client,
    args: &Args,
    run_tag: &str,
    quote_id: &str,
    office: &str,
    index: usize,
) -> anyhow::Result<Callback> {
    let case_reference = format!("{office}B{run_tag}{index:07}");
    let intent = post_json(
        http,
        &format!("{}/v1/payment-intents", args.base_url),
        &args.api_key,
        Some(&format!("bench-{run_tag}-{index}-intent")),
        &json!({"quote_id": quote_id, "case_reference": case_reference}),
    )
    .await?;
    let intent_id = intent["id"]
        .as_str()
        .with_context(|| format!("intent without id: {intent}"))?;
    let attempt = post_json(
        http,
        &format!("{}/v1/payment-intents/{intent_id}/attempts", args.base_url),
        &args.api_key,
        Some(&format!("bench-{run_tag}-{index}-attempt")),
        &json!({"channel": "sandbox"}),
    )
    .await?;
    let (Some(reference), Some(amount), Some(currency), Some("pending")) = (
        attempt["provider_reference"].as_str(),
        attempt["amount"]["amount"].as_str(),
        attempt["amount"]["currency"].as_str(),
        attempt["status"].as_str(),
    ) else {
        bail!("not a pending sandbox attempt with a reference and an amount: {attempt}");
    };
    let body = serde_json::to_vec(&json!({
        "transaction_id": format!("bench-{run_tag}-{index}"),
        "provider_reference": reference,
        "amount": amount,
        "currency": currency,
        "paid_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }))?;
    let signature = sandbox_signature(&args.sandbox_secret, &body)?;
    Ok(Callback { body, signature })
}

/// Creates every intent and attempt, `--setup-concurrency` at a time.
async fn setup(
    http: &reqwest::Client,
    args: &Arc<Args>,
    run_tag: &str,
) -> anyhow::Result<Vec<Callback>> {
    let mut quotes = Vec::new();
    for office in &args.offices {
        let quote = post_json(
            http,
            &format!("{}/v1/quotes", args.base_url),
            &args.api_key,
            None,
            &json!({"office_code": office, "items": [{"service_code": args.service, "quantity": 1}]}),
        )
        .await
        .with_context(|| format!("quoting {} for office {office}", args.service))?;
        let id = quote["id"]
            .as_str()
            .with_context(|| format!("quote without id: {quote}"))?
            .to_owned();
        quotes.push((office.clone(), id));
    }
    let quotes = Arc::new(quotes);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    let total = args.intents + args.warmup;
    for _ in 0..args.setup_concurrency.min(total) {
        let (http, args, quotes, next, done, failed) = (
            http.clone(),
            Arc::clone(args),
            Arc::clone(&quotes),
            Arc::clone(&next),
            Arc::clone(&done),
            Arc::clone(&failed),
        );
        let run_tag = run_tag.to_owned();
        workers.push(tokio::spawn(async move {
            let mut prepared = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total || failed.load(Ordering::Relaxed) {
                    return Ok::<_, anyhow::Error>(prepared);
                }
                let Some((office, quote_id)) = quotes.get(index % quotes.len()) else {
                    bail!("no quote");
                };
                match prepare_one(&http, &args, &run_tag, quote_id, office, index).await {
                    Ok(callback) => prepared.push(callback),
                    Err(error) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(error.context(format!("preparing intent {index}")));
                    }
                }
                let count = done.fetch_add(1, Ordering::Relaxed) + 1;
                if count % 5_000 == 0 {
                    eprintln!("bench_callbacks: setup {count}/{total} intents");
                }
            }
        }));
    }
    let mut callbacks = Vec::with_capacity(total);
    for worker in workers {
        callbacks.extend(worker.await??);
    }
    Ok(callbacks)
}

/// What one callback came to.
enum Outcome {
    Ok(Duration),
    Error(String),
}

async fn send(http: &reqwest::Client, url: &str, callback: &Callback) -> Outcome {
    let request = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-sandbox-signature", &callback.signature)
        .body(callback.body.clone());
    let started = Instant::now();
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            // The whole answer is part of the exchange: read it before stopping the clock.
            let body = response.bytes().await;
            let elapsed = started.elapsed();
            match body {
                Ok(_) if status.is_success() => Outcome::Ok(elapsed),
                Ok(body) => Outcome::Error(format!("{status}: {}", String::from_utf8_lossy(&body))),
                Err(error) => Outcome::Error(format!("{status}, body unreadable: {error}")),
            }
        }
        Err(error) => Outcome::Error(format!("transport: {error}")),
    }
}

/// Everything the measure phase produces.
#[derive(Default)]
struct Tally {
    sent: usize,
    ok: usize,
    errors: usize,
    first_error: Option<String>,
    /// Of the 2xx answers; closed loop: from send, open loop: from when the callback was due.
    latencies: Vec<Duration>,
    /// Open loop only: from the actual send (the service's share of the latency above).
    service_latencies: Vec<Duration>,
    /// Open loop only: how late the generator sent, behind the schedule.
    dispatch_lags: Vec<Duration>,
    max_in_flight: usize,
    exhausted: bool,
    seconds: f64,
}

impl Tally {
    fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Ok(latency) => {
                self.ok += 1;
                self.latencies.push(latency);
            }
            Outcome::Error(error) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(error);
                }
            }
        }
    }
}

async fn closed_loop(
    http: &reqwest::Client,
    url: &str,
    callbacks: Arc<Vec<Callback>>,
    concurrency: usize,
    seconds: f64,
) -> Tally {
    let next = Arc::new(AtomicUsize::new(0));
    let exhausted = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, url, callbacks, next, exhausted) = (
            http.clone(),
            url.to_owned(),
            Arc::clone(&callbacks),
            Arc::clone(&next),
            Arc::clone(&exhausted),
        );
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(callback) = callbacks.get(index) else {
                    exhausted.store(true, Ordering::Relaxed);
                    break;
                };
                tally.sent += 1;
                tally.record(send(&http, &url, callback).await);
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for worker in workers {
        match worker.await {
            Ok(tally) => {
                total.sent += tally.sent;
                total.ok += tally.ok;
                total.errors += tally.errors;
                if total.first_error.is_none() {
                    total.first_error = tally.first_error;
                }
                total.latencies.extend(tally.latencies);
            }
            Err(error) => {
                total.errors += 1;
                total
                    .first_error
                    .get_or_insert(format!("worker panicked: {error}"));
            }
        }
    }
    total.seconds = start.elapsed().as_secs_f64();
    total.exhausted = exhausted.load(Ordering::Relaxed);
    total.max_in_flight = concurrency;
    total
}

async fn open_loop(
    http: &reqwest::Client,
    url: &str,
    callbacks: Arc<Vec<Callback>>,
    rate: f64,
    seconds: f64,
) -> Tally {
    let wanted = (rate * seconds).round() as usize;
    let total = wanted.min(callbacks.len());
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    // A little head start so the first sends are not late because of the spawn loop itself.
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(total);
    for index in 0..total {
        let due = start + Duration::from_secs_f64(index as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let (http, url, callbacks, in_flight, max_in_flight) = (
            http.clone(),
            url.to_owned(),
            Arc::clone(&callbacks),
            Arc::clone(&in_flight),
            Arc::clone(&max_in_flight),
        );
        tasks.push(tokio::spawn(async move {
            let lag = due.elapsed();
            let now = in_flight.fetch_add(1, Ordering::Relaxed) + 1;
            max_in_flight.fetch_max(now, Ordering::Relaxed);
            let outcome = match callbacks.get(index) {
                Some(callback) => send(&http, &url, callback).await,
                None => Outcome::Error("no prepared callback".to_owned()),
            };
            in_flight.fetch_sub(1, Ordering::Relaxed);
            // Latency from when the callback was due, not from when it went out.
            (outcome, due.elapsed(), lag)
        }));
    }
    let mut tally = Tally {
        sent: total,
        exhausted: total < wanted,
        ..Tally::default()
    };
    for task in tasks {
        match task.await {
            Ok((Outcome::Ok(service), from_due, lag)) => {
                tally.record(Outcome::Ok(from_due));
                tally.service_latencies.push(service);
                tally.dispatch_lags.push(lag);
            }
            Ok((error, _, lag)) => {
                tally.record(error);
                tally.dispatch_lags.push(lag);
            }
            Err(error) => tally.record(Outcome::Error(format!("task panicked: {error}"))),
        }
    }
    tally.seconds = start.elapsed().as_secs_f64();
    tally.max_in_flight = max_in_flight.load(Ordering::Relaxed);
    tally
}

/// Nearest-rank percentile in milliseconds of a sorted slice; `None` when empty.
fn percentile_ms(sorted: &[Duration], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted.get(index).map(|d| round3(d.as_secs_f64() * 1000.0))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Sends the warm-up callbacks (closed loop, unmeasured) and fails on any error: the measure
/// phase should start with the service's connections open, its statements prepared and the
/// ledger's tables holding rows.
async fn warm_up(
    http: &reqwest::Client,
    url: &str,
    callbacks: Vec<Callback>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let count = callbacks.len();
    let tally = closed_loop(http, url, Arc::new(callbacks), concurrency, 3_600.0).await;
    if let Some(error) = tally.first_error {
        bail!(
            "{} of {count} warm-up callbacks failed; the first: {error}",
            tally.errors
        );
    }
    eprintln!(
        "bench_callbacks: warm-up: {count} callbacks in {:.1} s",
        tally.seconds
    );
    Ok(())
}

/// Refreshes the planner's statistics between the warm-up and the measure phase, as
/// autovacuum's analyze would on a server that runs it (the test machines' PostgreSQL has
/// autovacuum off). Without it every plan cached in the service was made for tables that
/// were empty when the service started: sequential scans of the ledger's postings on every
/// balance check, slower with every row.
async fn analyze(database_url: &str) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(database_url)
        .await
        .context("connecting to DATABASE_URL")?;
    sqlx::query("analyze").execute(&mut conn).await?;
    Ok(())
}

/// Counts of what a paid callback leaves behind, read straight from the database.
async fn settled_counts(database_url: &str) -> anyhow::Result<(i64, i64)> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(database_url)
        .await
        .context("connecting to DATABASE_URL")?;
    let entries: i64 =
        sqlx::query_scalar("select count(*) from ledger_entries where kind = 'payment_confirmed'")
            .fetch_one(&mut conn)
            .await?;
    let events: i64 =
        sqlx::query_scalar("select count(*) from outbox_events where event_type = 'payment.paid'")
            .fetch_one(&mut conn)
            .await?;
    conn.close().await?;
    Ok((entries, events))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(parse_args()?);
    let pool_size = args.concurrency.max(args.setup_concurrency);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(pool_size)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let run_tag = format!("{:x}", chrono::Utc::now().timestamp_millis());

    let setup_started = Instant::now();
    let mut callbacks = setup(&http, &args, &run_tag).await?;
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    eprintln!(
        "bench_callbacks: setup {} intents with pending sandbox attempts in {setup_seconds:.1} s ({:.0}/s)",
        callbacks.len(),
        callbacks.len() as f64 / setup_seconds
    );

    let url = format!("{}/v1/callbacks/sandbox", args.base_url);
    let measured = callbacks.split_off(args.warmup.min(callbacks.len()));
    if !callbacks.is_empty() {
        warm_up(&http, &url, callbacks, args.concurrency).await?;
    }
    if let Some(url) = &args.database_url {
        analyze(url).await?;
    }
    let before = match &args.database_url {
        Some(url) => Some(settled_counts(url).await?),
        None => None,
    };
    let callbacks = Arc::new(measured);
    let mut tally = match args.rate {
        None => closed_loop(&http, &url, callbacks, args.concurrency, args.seconds).await,
        Some(rate) => open_loop(&http, &url, callbacks, rate, args.seconds).await,
    };
    let after = match &args.database_url {
        Some(url) => Some(settled_counts(url).await?),
        None => None,
    };

    if let Some(error) = &tally.first_error {
        eprintln!(
            "bench_callbacks: {} of {} callbacks failed; the first: {error}",
            tally.errors, tally.sent
        );
    }
    if tally.exhausted {
        eprintln!(
            "bench_callbacks: the {} prepared callbacks ran out after {:.2} s: the run is shorter than asked, give more --intents",
            args.intents, tally.seconds
        );
    }
    tally.latencies.sort_unstable();
    tally.service_latencies.sort_unstable();
    tally.dispatch_lags.sort_unstable();
    let ok = tally.ok as i64;
    let (entries_added, events_added, check) = match (before, after) {
        (Some((entries0, events0)), Some((entries1, events1))) => {
            let (entries, events) = (entries1 - entries0, events1 - events0);
            let check = if entries == ok && events == ok {
                "ok"
            } else {
                "mismatch"
            };
            if check != "ok" {
                eprintln!(
                    "bench_callbacks: LEDGER CHECK FAILED: {ok} callbacks answered 2xx, but {entries} payment_confirmed entries and {events} payment.paid events were added"
                );
            }
            (Some(entries), Some(events), Some(check))
        }
        _ => (None, None, None),
    };
    let throughput = if tally.seconds > 0.0 {
        tally.ok as f64 / tally.seconds
    } else {
        0.0
    };
    let mut report = json!({
        "mode": if args.rate.is_some() { "open" } else { "closed" },
        "concurrency": args.concurrency,
        "rate": args.rate,
        "sent": tally.sent,
        "ok": tally.ok,
        "errors": tally.errors,
        "seconds": round3(tally.seconds),
        "throughput": (throughput * 10.0).round() / 10.0,
        "p50_ms": percentile_ms(&tally.latencies, 50.0),
        "p90_ms": percentile_ms(&tally.latencies, 90.0),
        "p99_ms": percentile_ms(&tally.latencies, 99.0),
        "max_ms": percentile_ms(&tally.latencies, 100.0),
        "ledger_entries_added": entries_added,
        "outbox_events_added": events_added,
        "ledger_check": check,
        "exhausted": tally.exhausted,
        "intents": args.intents,
        "warmup": args.warmup,
        "offices": args.offices,
        "setup_s": round3(setup_seconds),
    });
    if args.rate.is_some() {
        report["max_in_flight"] = json!(tally.max_in_flight);
        report["service_p50_ms"] = json!(percentile_ms(&tally.service_latencies, 50.0));
        report["service_p99_ms"] = json!(percentile_ms(&tally.service_latencies, 99.0));
        report["dispatch_lag_p99_ms"] = json!(percentile_ms(&tally.dispatch_lags, 99.0));
        report["dispatch_lag_max_ms"] = json!(percentile_ms(&tally.dispatch_lags, 100.0));
    }
    if args.json {
        println!("{report}");
    } else {
        let ms = |key: &str| {
            report[key]
                .as_f64()
                .map_or("-".to_owned(), |v| format!("{v:.2}"))
        };
        println!(
            "{} loop: {} sent, {} ok, {} errors in {:.2} s = {:.1} callbacks/s",
            report["mode"].as_str().unwrap_or("?"),
            tally.sent,
            tally.ok,
            tally.errors,
            tally.seconds,
            throughput
        );
        println!(
            "latency ms: p50 {} p90 {} p99 {} max {}",
            ms("p50_ms"),
            ms("p90_ms"),
            ms("p99_ms"),
            ms("max_ms")
        );
        match (entries_added, check) {
            (Some(entries), Some(check)) => {
                println!("ledger: {entries} payment_confirmed entries added ({check})");
            }
            _ => println!("ledger: not checked (no DATABASE_URL)"),
        }
    }
    if tally.errors > 0 || check == Some("mismatch") {
        std::process::exit(1);
    }
    Ok(())
}
