//! KHQR codec throughput: our side of `make bench` (scripts/bench.sh, bench/khqr/README.md).
//!
//! A measuring tool, not a test: it never asserts a timing. The workload is every
//! `kind: "generate"` record of the vector file, read at run time (the SDK side,
//! bench/khqr/sdk-bench.mjs, reads the same file the same way). One operation of each row:
//!
//! * `encode+decode`: `SdkRequest::from_json(input)` + `encode(clock_ms)`, then `decode(qr)`
//!   (CRC and every field rule). The SDK side: `new IndividualInfo|MerchantInfo(...)` +
//!   `generateIndividual|generateMerchant` with `Date.now() = clock_ms`, then
//!   `BakongKHQR.decode(qr)` (which checks no CRC and no rule: the comparison favours the SDK).
//! * `encode`, `decode`: the two halves alone.
//! * `verify`: `verify(qr, clock_ms)` against the SDK's `BakongKHQR.verify(qr)`.
//! * `typed encode+decode` (ours only): `encode(&KhqrRequest)` + `decode`, the typed request
//!   read from the input beforehand; the path the payments service takes.
//!
//! Single thread, like Node. Each row warms up, then runs the whole input set again and again
//! in samples of 0.5 s (time checked after each pass) until `--seconds` have passed, and prints
//! one JSON line: `{"side":"ours","row":...,"ops":...,"ns":...,"ops_per_s":...}` where
//! `ops_per_s` is the median sample (also `mean_`, `min_`, `max_ops_per_s`; integer arithmetic).
//!
//! Usage: `khqr_bench [--vectors PATH] [--seconds N] [--warmup-ms N] [--dump PATH] [--only ROW]`.
//! `--dump` writes one JSON line per record (`id`, `qr`, `md5`, `decode`) for the SDK side to
//! compare against; `--only` runs one row (for a profiler).

use std::hint::black_box;
use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use bank_adapters::khqr::{self, KhqrRequest, SdkRequest};
use serde_json::{json, Value};

const USAGE: &str =
    "khqr_bench [--vectors PATH] [--seconds N] [--warmup-ms N] [--dump PATH] [--only ROW]";

const DEFAULT_VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/khqr-vectors.json");

struct Case {
    id: String,
    /// The SDK-shaped input: the record's `input` plus `type`.
    input: Value,
    clock_ms: i64,
    expected_qr: String,
    /// Our QR for this case (filled by the check pass; input of the decode and verify rows).
    qr: String,
    /// The typed request `SdkRequest::from_json` reads from `input` (filled by the check pass;
    /// input of the `typed encode+decode` row, the path the payments service takes).
    typed: Option<KhqrRequest>,
}

struct Options {
    vectors: String,
    run_for: Duration,
    warmup: Duration,
    dump: Option<String>,
    only: Option<String>,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        vectors: DEFAULT_VECTORS.to_owned(),
        run_for: Duration::from_secs(3),
        warmup: Duration::from_millis(500),
        dump: None,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        match flag.as_str() {
            "--vectors" => options.vectors = value()?,
            "--seconds" => options.run_for = Duration::from_secs(value()?.parse()?),
            "--warmup-ms" => options.warmup = Duration::from_millis(value()?.parse()?),
            "--dump" => options.dump = Some(value()?),
            "--only" => options.only = Some(value()?),
            _ => bail!("usage: {USAGE}"),
        }
    }
    Ok(options)
}

fn load(path: &str) -> anyhow::Result<Vec<Case>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {path}"))?;
    let records: Vec<Value> = serde_json::from_str(&text).context("the vector file")?;
    let mut cases = Vec::new();
    for record in records.iter().filter(|record| record["kind"] == "generate") {
        let id = record["id"].as_str().unwrap_or("?").to_owned();
        let mut input = record["input"].clone();
        let object = input
            .as_object_mut()
            .ok_or_else(|| anyhow!("{id}: input is not an object"))?;
        object.insert("type".to_owned(), record["type"].clone());
        cases.push(Case {
            input,
            clock_ms: record["clock_ms"]
                .as_i64()
                .ok_or_else(|| anyhow!("{id}: clock_ms"))?,
            expected_qr: record
                .pointer("/expected/qr")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            qr: String::new(),
            typed: None,
            id,
        });
    }
    if cases.is_empty() {
        bail!("{path} has no generate records");
    }
    Ok(cases)
}

/// What the check pass found.
struct Checked {
    /// Cases whose QR differs from the one the SDK recorded in the vector file.
    qr_mismatches: usize,
    /// Cases whose typed request encodes to another QR than the SDK-shaped input.
    typed_mismatches: usize,
}

/// Encodes and decodes every case once (outside any timing), keeps our QR and typed request,
/// and counts mismatches.
fn check(cases: &mut [Case], dump: Option<&str>) -> anyhow::Result<Checked> {
    let mut lines = String::new();
    let mut checked = Checked {
        qr_mismatches: 0,
        typed_mismatches: 0,
    };
    for case in cases.iter_mut() {
        let request =
            SdkRequest::from_json(&case.input).map_err(|error| anyhow!("{}: {error}", case.id))?;
        let encoded = request
            .encode(case.clock_ms)
            .map_err(|error| anyhow!("{}: encode: {error}", case.id))?;
        let typed = request.to_request();
        if khqr::encode(&typed, case.clock_ms).ok().as_ref() != Some(&encoded) {
            checked.typed_mismatches += 1;
        }
        let decoded =
            khqr::decode(&encoded.qr).map_err(|error| anyhow!("{}: decode: {error}", case.id))?;
        let verification = khqr::verify(&encoded.qr, case.clock_ms);
        if let Some(error) = verification.error {
            bail!("{}: verify at clock_ms: {error}", case.id);
        }
        if encoded.qr != case.expected_qr {
            checked.qr_mismatches += 1;
            eprintln!("khqr_bench: {}: our QR differs from the vector's", case.id);
        }
        let line =
            json!({ "id": case.id, "qr": encoded.qr, "md5": encoded.md5, "decode": decoded });
        lines.push_str(&line.to_string());
        lines.push('\n');
        case.qr = encoded.qr;
        case.typed = Some(typed);
    }
    if let Some(path) = dump {
        std::fs::write(path, lines).with_context(|| format!("write {path}"))?;
    }
    Ok(checked)
}

/// One pass over every case; returns how many operations it made.
type Pass = fn(&[Case]) -> anyhow::Result<u64>;

fn encode_decode(cases: &[Case]) -> anyhow::Result<u64> {
    for case in cases {
        let encoded = SdkRequest::from_json(black_box(&case.input))?.encode(case.clock_ms)?;
        black_box(khqr::decode(black_box(&encoded.qr))?);
    }
    ops(cases)
}

fn typed_encode_decode(cases: &[Case]) -> anyhow::Result<u64> {
    for case in cases {
        let request = case
            .typed
            .as_ref()
            .ok_or_else(|| anyhow!("no typed request"))?;
        let encoded = khqr::encode(black_box(request), case.clock_ms)?;
        black_box(khqr::decode(black_box(&encoded.qr))?);
    }
    ops(cases)
}

fn encode(cases: &[Case]) -> anyhow::Result<u64> {
    for case in cases {
        black_box(SdkRequest::from_json(black_box(&case.input))?.encode(case.clock_ms)?);
    }
    ops(cases)
}

fn decode(cases: &[Case]) -> anyhow::Result<u64> {
    for case in cases {
        black_box(khqr::decode(black_box(&case.qr))?);
    }
    ops(cases)
}

fn verify(cases: &[Case]) -> anyhow::Result<u64> {
    for case in cases {
        let verification = khqr::verify(black_box(&case.qr), case.clock_ms);
        if !verification.is_valid() {
            bail!("{}: does not verify", case.id);
        }
        black_box(verification);
    }
    ops(cases)
}

fn ops(cases: &[Case]) -> anyhow::Result<u64> {
    Ok(u64::try_from(cases.len())?)
}

/// Runs whole passes until `at_least` has passed; (operations, elapsed nanoseconds).
fn run(pass: Pass, cases: &[Case], at_least: Duration) -> anyhow::Result<(u64, u128)> {
    let start = Instant::now();
    let mut count = 0;
    loop {
        count += pass(cases)?;
        let elapsed = start.elapsed();
        if elapsed >= at_least {
            return Ok((count, elapsed.as_nanos()));
        }
    }
}

/// Length of one sample: a row's `--seconds` are cut into samples and the median rate is the
/// row's `ops_per_s` (a machine shared with builds disturbs a few samples, not the median).
const SAMPLE: Duration = Duration::from_millis(500);

fn samples(run_for: Duration) -> u128 {
    (run_for.as_millis() / SAMPLE.as_millis()).max(1)
}

fn per_second(count: u64, nanos: u128) -> u128 {
    u128::from(count) * 1_000_000_000 / nanos.max(1)
}

fn main() -> anyhow::Result<()> {
    let options = options()?;
    let mut cases = load(&options.vectors)?;
    let checked = check(&mut cases, options.dump.as_deref())?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{}",
        json!({
            "side": "ours",
            "records": cases.len(),
            "first_id": cases.first().map(|case| case.id.as_str()),
            "last_id": cases.last().map(|case| case.id.as_str()),
            "qr_mismatches_vs_vectors": checked.qr_mismatches,
            "typed_qr_mismatches": checked.typed_mismatches,
        })
    )?;
    let rows: [(&str, Pass); 5] = [
        ("encode+decode", encode_decode),
        ("encode", encode),
        ("decode", decode),
        ("verify", verify),
        ("typed encode+decode", typed_encode_decode),
    ];
    for (row, pass) in rows {
        if options.only.as_deref().is_some_and(|only| only != row) {
            continue;
        }
        run(pass, &cases, options.warmup)?;
        let (mut count, mut nanos, mut rates) = (0, 0, Vec::new());
        for _ in 0..samples(options.run_for) {
            let (sample_count, sample_nanos) = run(pass, &cases, SAMPLE)?;
            count += sample_count;
            nanos += sample_nanos;
            rates.push(u64::try_from(per_second(sample_count, sample_nanos))?);
        }
        rates.sort_unstable();
        let line = json!({
            "side": "ours",
            "row": row,
            "ops": count,
            "ns": u64::try_from(nanos)?,
            "ops_per_s": rates.get(rates.len() / 2),
            "mean_ops_per_s": u64::try_from(per_second(count, nanos))?,
            "min_ops_per_s": rates.first(),
            "max_ops_per_s": rates.last(),
        });
        writeln!(stdout, "{line}")?;
        stdout.flush()?;
    }
    Ok(())
}
