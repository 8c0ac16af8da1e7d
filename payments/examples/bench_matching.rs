//! Matching bench (issue 15): `payments::app::reconciliation::matching::reconcile` over a month
//! of one busy office (30,000 items and about as many lines) and of all 204 offices (about
//! 1,000,000 lines), with the noise. Prints wall time, memory and the counts.
//!
//! Run with `make bench-recon` (`scripts/bench-recon.sh`), or `cargo run --release -p payments
//! --example bench_matching`. Each scenario runs in its own child process (this binary with
//! the scenario's name as argument) so each peak memory (`VmHWM`) is its own. Knobs:
//! `BENCH_OFFICE_ITEMS` (30000), `BENCH_ALL_ITEMS` (1000000), `BENCH_SEED` (15).
//!
//! The data is synthetic and deterministic (splitmix64 from the seed): items spread over the
//! 30 days of November 2026; 80 % KHQR payments (Bakong hash, md5, bill number), 14 % card
//! gateway payments (gateway transaction id, bill number), 3 % cash deposits (slip
//! reference), 3 % refunds (money out, bank reference); 85 % riel, 15 % dollars. Lines: one per
//! item in booking order, then the noise: 1 % of items without a line, 1 % of lines less a
//! bank fee (0.1–2 %), 2 % of lines booked 1–3 days late (inside the window) and 0.1 % 6 days
//! late (outside), 1 % extra lines (half keyless, half with an unknown transaction id), a few
//! card settlements as one batch line with parts (5 a month in the busy office, 1 elsewhere)
//! and a few dollar KHQR days settled as one keyless line of the day's total.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::float_arithmetic,
    missing_docs
)]

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeDelta};
use payments::app::reconciliation::matching::{
    reconcile, Flow, ItemKind, LedgerItem, Line, LinePart, Method, Outcome, Rules,
};

const OFFICES: usize = 204;
const DAYS: u32 = 30;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|raw| raw.parse().ok())
        .unwrap_or(default)
}

/// splitmix64: small, fast, deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `per_mille` / 1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    fn hex(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| format!("{:016x}", self.next()))
            .collect()
    }
}

/// What the generator planted, to read the outcome against.
#[derive(Default, Clone, Copy)]
struct Planted {
    missing: usize,
    fee: usize,
    late: usize,
    too_late: usize,
    extra: usize,
    batch_lines: usize,
    sum_lines: usize,
}

impl Planted {
    fn add(&mut self, other: Planted) {
        self.missing += other.missing;
        self.fee += other.fee;
        self.late += other.late;
        self.too_late += other.too_late;
        self.extra += other.extra;
        self.batch_lines += other.batch_lines;
        self.sum_lines += other.sum_lines;
    }
}

struct Office {
    items: Vec<LedgerItem>,
    lines: Vec<Line>,
    planted: Planted,
}

fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + TimeDelta::days(i64::from(n))
}

/// One office's month: `n` items, their lines with noise. `posting_id` continues across
/// offices so ids stay unique when everything is matched in one call.
fn office_month(
    code: usize,
    n: usize,
    busy: bool,
    next_posting: &mut i64,
    rng: &mut Rng,
) -> Office {
    let mut items = Vec::with_capacity(n);
    for serial in 0..n {
        *next_posting += 1;
        let date = day(rng.below(u64::from(DAYS)) as u32);
        let dollars = rng.chance(150);
        let currency = if dollars { "USD" } else { "KHR" }.to_owned();
        // Riel 1,000–400,000 (whole riel); dollars 1.00–100.00 in cents.
        let amount_minor = if dollars {
            100 + rng.below(9_900) as i64
        } else {
            (10 + rng.below(3_990) as i64) * 100
        };
        let bill = format!("{code:04}-2611-{serial:06}");
        let kind_roll = rng.below(100);
        let (kind, flow, keys) = if kind_roll < 80 {
            (
                ItemKind::Channel("bakong".into()),
                Flow::In,
                vec![rng.hex(4), rng.hex(2), bill],
            )
        } else if kind_roll < 94 {
            (
                ItemKind::Channel("gateway".into()),
                Flow::In,
                vec![format!("GW{}", rng.hex(1).to_uppercase()), bill],
            )
        } else if kind_roll < 97 {
            (
                ItemKind::Deposit,
                Flow::In,
                vec![format!("SLIP-{code:04}-{serial:06}")],
            )
        } else {
            (
                ItemKind::Refund,
                Flow::Out,
                vec![format!("RF{}", rng.hex(1).to_uppercase())],
            )
        };
        items.push(LedgerItem {
            posting_id: *next_posting,
            kind,
            flow,
            currency,
            amount_minor,
            date,
            keys,
        });
    }

    let mut planted = Planted::default();
    let mut lines = Vec::with_capacity(n + n / 50);
    let mut in_batch = vec![false; n];

    // Card settlements as batch lines with parts: the gateway items of one day and currency.
    let batches = if busy { 5 } else { 1 };
    for _ in 0..batches {
        let batch_day = day(rng.below(u64::from(DAYS)) as u32);
        let members: Vec<usize> = (0..n)
            .filter(|&i| {
                let item = &items[i];
                !in_batch[i]
                    && item.date == batch_day
                    && item.currency == "KHR"
                    && item.kind == ItemKind::Channel("gateway".into())
            })
            .take(20)
            .collect();
        if members.len() < 2 {
            continue;
        }
        let total: i64 = members.iter().map(|&i| items[i].amount_minor).sum();
        let parts = members
            .iter()
            .map(|&i| {
                in_batch[i] = true;
                LinePart {
                    transaction_id: Some(items[i].keys[0].clone()),
                    reference: None,
                    amount_minor: Some(items[i].amount_minor),
                }
            })
            .collect();
        lines.push(Line {
            flow: Flow::In,
            currency: "KHR".into(),
            amount_minor: total - total / 200, // 0.5 % fee on the settlement
            booking_date: batch_day + TimeDelta::days(1),
            transaction_id: Some(format!("SETTLE-{}", rng.hex(1))),
            reference: None,
            parts,
        });
        planted.batch_lines += 1;
    }

    // Dollar KHQR days settled as one keyless line: every dollar channel item of the day.
    let sums = if busy { 3 } else { 1 };
    for _ in 0..sums {
        let sum_day = day(rng.below(u64::from(DAYS)) as u32);
        let members: Vec<usize> = (0..n)
            .filter(|&i| {
                let item = &items[i];
                item.date == sum_day
                    && item.currency == "USD"
                    && item.flow == Flow::In
                    && matches!(item.kind, ItemKind::Channel(_))
            })
            .collect();
        if members.is_empty() || members.iter().any(|&i| in_batch[i]) {
            continue;
        }
        let total: i64 = members.iter().map(|&i| items[i].amount_minor).sum();
        for &i in &members {
            in_batch[i] = true;
        }
        lines.push(Line {
            flow: Flow::In,
            currency: "USD".into(),
            amount_minor: total,
            booking_date: sum_day + TimeDelta::days(1),
            transaction_id: None,
            reference: Some("KHQR SETTLEMENT".into()),
            parts: vec![],
        });
        planted.sum_lines += 1;
    }

    for (i, item) in items.iter().enumerate() {
        if in_batch[i] {
            continue;
        }
        if rng.chance(10) {
            planted.missing += 1;
            continue;
        }
        let mut line = Line {
            flow: item.flow,
            currency: item.currency.clone(),
            amount_minor: item.amount_minor,
            booking_date: item.date,
            transaction_id: None,
            reference: None,
            parts: vec![],
        };
        // The bank shows the strongest key it has; a deposit's slip is the reference.
        match item.kind {
            ItemKind::Deposit => line.reference = Some(item.keys[0].clone()),
            _ => line.transaction_id = Some(item.keys[0].clone()),
        }
        let fee_able = item.flow == Flow::In && item.kind != ItemKind::Deposit;
        if fee_able && rng.chance(10) {
            let fee = (item.amount_minor * (10 + rng.below(190) as i64) / 10_000).max(1);
            line.amount_minor -= fee;
            planted.fee += 1;
        }
        let roll = rng.below(1000);
        if roll < 20 {
            line.booking_date += TimeDelta::days(1 + rng.below(3) as i64);
            planted.late += 1;
        } else if roll < 21 {
            line.booking_date += TimeDelta::days(6);
            planted.too_late += 1;
        }
        lines.push(line);
    }

    let extras = n / 100;
    for _ in 0..extras {
        let keyless = rng.chance(500);
        lines.push(Line {
            flow: Flow::In,
            currency: "KHR".into(),
            amount_minor: 100 + rng.below(1_000_000) as i64,
            booking_date: day(rng.below(u64::from(DAYS)) as u32),
            transaction_id: (!keyless).then(|| rng.hex(4)),
            reference: keyless.then(|| "TRANSFER FROM ACLEDA".to_owned()),
            parts: vec![],
        });
        planted.extra += 1;
    }
    // Statement order: by booking date, stable.
    lines.sort_by_key(|line| line.booking_date);
    Office {
        items,
        lines,
        planted,
    }
}

/// Office 0 is the busy one (`busy_items`); the others share what is left of `total_items`.
fn all_offices(busy_items: usize, total_items: usize, rng: &mut Rng) -> Vec<Office> {
    let rest = total_items.saturating_sub(busy_items);
    let mut next_posting = 0;
    (0..OFFICES)
        .map(|office| {
            let n = if office == 0 {
                busy_items
            } else {
                rest / (OFFICES - 1) + usize::from(office <= rest % (OFFICES - 1))
            };
            office_month(100 + office, n, office == 0, &mut next_posting, rng)
        })
        .collect()
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix(field)?.strip_prefix(':')?;
                rest.trim().trim_end_matches("kB").trim().parse().ok()
            })
        })
        .unwrap_or(0)
}

#[derive(Default)]
struct Counts {
    exact: usize,
    fee: usize,
    batch: usize,
    batch_items: usize,
    by_sum: usize,
    by_sum_items: usize,
    unmatched_lines: usize,
    unmatched_items: usize,
}

impl Counts {
    fn add(&mut self, outcome: &Outcome) {
        for found in &outcome.matches {
            match found.method {
                Method::Exact => self.exact += 1,
                Method::FeeDeducted => self.fee += 1,
                Method::Batch => {
                    self.batch += 1;
                    self.batch_items += found.items.len();
                }
                Method::BatchBySum => {
                    self.by_sum += 1;
                    self.by_sum_items += found.items.len();
                }
            }
        }
        self.unmatched_lines += outcome.unmatched_lines.len();
        self.unmatched_items += outcome.unmatched_items.len();
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

/// One scenario, in this (child) process; prints one result line.
fn run(scenario: &str) {
    let seed = env_usize("BENCH_SEED", 15) as u64;
    let busy = env_usize("BENCH_OFFICE_ITEMS", 30_000);
    let total = env_usize("BENCH_ALL_ITEMS", 1_000_000);
    let mut rng = Rng(seed);
    let rules = Rules::default();
    let generate = Instant::now();
    let (offices, calls_label) = match scenario {
        "office" => {
            let mut next_posting = 0;
            (
                vec![office_month(100, busy, true, &mut next_posting, &mut rng)],
                "1 call",
            )
        }
        "offices" => (all_offices(busy, total, &mut rng), "204 calls"),
        "single" => {
            let mut offices = all_offices(busy, total, &mut rng);
            let mut items = Vec::new();
            let mut lines = Vec::new();
            let mut planted = Planted::default();
            for office in &mut offices {
                items.append(&mut office.items);
                lines.append(&mut office.lines);
                planted.add(office.planted);
            }
            (
                vec![Office {
                    items,
                    lines,
                    planted,
                }],
                "1 call",
            )
        }
        other => panic!("unknown scenario {other}"),
    };
    let generate = generate.elapsed();
    let items: usize = offices.iter().map(|o| o.items.len()).sum();
    let lines: usize = offices.iter().map(|o| o.lines.len()).sum();
    let mut planted = Planted::default();
    for office in &offices {
        planted.add(office.planted);
    }
    let rss_before = status_kib("VmRSS");
    let mut counts = Counts::default();
    let mut slowest = Duration::ZERO;
    let wall = Instant::now();
    for office in &offices {
        let call = Instant::now();
        let outcome = reconcile(&office.items, &office.lines, &rules);
        slowest = slowest.max(call.elapsed());
        counts.add(&outcome);
    }
    let wall = wall.elapsed();
    let peak = status_kib("VmHWM");
    println!(
        "{scenario}\t{calls_label}\t{items}\t{lines}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        ms(wall),
        ms(slowest),
        rss_before / 1024,
        peak / 1024,
        peak.saturating_sub(rss_before) / 1024,
        counts.exact,
        counts.fee,
        counts.batch,
        counts.batch_items,
        counts.by_sum,
        counts.by_sum_items,
        counts.unmatched_lines,
        counts.unmatched_items,
        planted.missing,
        planted.fee,
        planted.late,
        planted.too_late,
        planted.extra,
        planted.batch_lines,
        planted.sum_lines,
        ms(generate),
    );
}

fn main() {
    if let Some(scenario) = std::env::args().nth(1) {
        run(&scenario);
        return;
    }
    let me = std::env::current_exe().unwrap();
    println!(
        "matching bench: rules {:?}; each scenario in its own process",
        Rules::default()
    );
    println!(
        "{:<8} {:>9} {:>9} {:>9} {:>10} {:>10} {:>8} {:>8} {:>8} | {:>9} {:>6} {:>12} {:>10} {:>8} {:>8}",
        "scenario", "calls", "items", "lines", "wall ms", "max call", "data MB", "peak MB",
        "+match", "exact", "fee", "batch(items)", "sum(items)", "unm.ln", "unm.it"
    );
    for scenario in ["office", "offices", "single"] {
        let output = Command::new(&me).arg(scenario).output().unwrap();
        assert!(
            output.status.success(),
            "{scenario}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        let f: Vec<&str> = text.trim().split('\t').collect();
        println!(
            "{:<8} {:>9} {:>9} {:>9} {:>10} {:>10} {:>8} {:>8} {:>8} | {:>9} {:>6} {:>12} {:>10} {:>8} {:>8}",
            f[0],
            f[1],
            f[2],
            f[3],
            f[4],
            f[5],
            f[6],
            f[7],
            f[8],
            f[9],
            f[10],
            format!("{}({})", f[11], f[12]),
            format!("{}({})", f[13], f[14]),
            f[15],
            f[16],
        );
        println!(
            "         planted: {} missing, {} fee, {} late (in window), {} too late, {} extra, {} batch lines, {} day-total lines; generated in {} ms",
            f[17], f[18], f[19], f[20], f[21], f[22], f[23], f[24]
        );
    }
}
