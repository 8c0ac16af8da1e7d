//! A seeded random workload against two service instances sharing one database: payments,
//! duplicate callbacks, second payments, wrong amounts and concurrent reversals; then the
//! ledger's invariants (zero sums, one entry per key, sealing, chain, point-in-time balances).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::support::{TestApp, SECRET};

/// "Thousands of mixed payments": 1,000 intents give about 2,000 callback requests.
const INTENTS: usize = 1000;
const CONCURRENCY: usize = 16;

/// Candidate fixed-price services; the ones the catalog quotes with quantity 1 are used.
const SERVICES: [&str; 5] = [
    "labour.internal_regulations_8_100",
    "commerce.barber_shop_licence",
    "agriculture.slaughtering_business",
    "public_works.driving_licence_a_exam",
    "legalization.business_certificate_notarization",
];

struct Paying {
    intent_id: String,
    case_reference: String,
    reference: String,
    amount: String,
    currency: String,
}

/// One callback to send: its body, and how many times to send it.
struct Send {
    body: Value,
    copies: usize,
}

async fn send_callback(http: &reqwest::Client, base: &str, body: &Value) -> StatusCode {
    let raw = serde_json::to_vec(body).unwrap();
    let signature = bank_adapters::signing::hmac_sha256_hex(SECRET.as_bytes(), &raw);
    let response = http
        .post(format!("{base}/v1/callbacks/sandbox"))
        .header("content-type", "application/json")
        .header("x-sandbox-signature", signature)
        .body(raw)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "callback {body} -> {status}: {text}");
    status
}

fn body(paying: &Paying, transaction_id: &str, amount: &str) -> Value {
    json!({
        "transaction_id": transaction_id,
        "provider_reference": paying.reference,
        "amount": amount,
        "currency": paying.currency,
        "paid_at": "2026-11-25T10:00:00Z",
    })
}

/// Account code -> (debit, credit) of the non-empty accounts.
type Totals = BTreeMap<String, (i64, i64)>;

async fn recomputed(pool: &PgPool, as_of: DateTime<Utc>) -> Totals {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "select a.code,
                coalesce(sum(p.amount_minor) filter (where p.amount_minor > 0), 0)::int8,
                coalesce(-sum(p.amount_minor) filter (where p.amount_minor < 0), 0)::int8
         from ledger_postings p
         join ledger_entries e on e.id = p.entry_id
         join ledger_accounts a on a.id = p.account_id
         where e.created_at <= $1
         group by a.code",
    )
    .bind(as_of)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(code, debit, credit)| (code, (debit, credit)))
        .collect()
}

async fn trial_totals(pool: &PgPool, as_of: Option<DateTime<Utc>>) -> Totals {
    let mut conn = pool.acquire().await.unwrap();
    ledger::store::trial_balance(&mut conn, None, as_of)
        .await
        .unwrap()
        .into_iter()
        .filter(|line| line.debit_minor != 0 || line.credit_minor != 0)
        .map(|line| {
            assert_eq!(
                line.balance_minor,
                line.debit_minor - line.credit_minor,
                "{}",
                line.account
            );
            (line.account, (line.debit_minor, line.credit_minor))
        })
        .collect()
}

/// Reverses `entry` in its own transaction; Ok(reversal id) or the refusal as text.
async fn try_reverse(pool: PgPool, entry: i64, key: String) -> (i64, Result<i64, String>) {
    let mut tx = pool.begin().await.unwrap();
    let outcome = ledger::store::reverse(
        &mut tx,
        ledger::EntryId(entry),
        "random test reversal",
        Some(key),
    )
    .await;
    let result = match outcome {
        Ok(ledger::PostOutcome::Posted(id)) => match tx.commit().await {
            Ok(()) => Ok(id.0),
            Err(error) => Err(format!("commit: {error}")),
        },
        Ok(other) => panic!("reversal of {entry} with a fresh key: {other:?}"),
        Err(error) => Err(error.to_string()),
    };
    (entry, result)
}

#[sqlx::test(migrations = "../migrations")]
async fn two_instances_random_payments_duplicates_and_reversals(pool: PgPool) {
    let started = Instant::now();
    let seed: u64 = std::env::var("LEDGER_RANDOM_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    println!("ledger_random seed: {seed} (rerun with LEDGER_RANDOM_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);

    let app = TestApp::start(pool.clone()).await;
    // The second instance: same database, its own state and listener.
    let config = (*app.state.config).clone();
    let second = payments::AppState::new(pool.clone(), config).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base2 = format!("http://{}", listener.local_addr().unwrap());
    let router2 = payments::router(second);
    tokio::spawn(async move { axum::serve(listener, router2).await.unwrap() });
    let bases = [app.base.clone(), base2];

    // Which (office, service) pairs quote.
    let mut offers: Vec<(&str, &str)> = Vec::new();
    for office in ["0320", "1201"] {
        for service in SERVICES {
            let reply = app
                .post(
                    "/v1/quotes",
                    Some(app.key("workflow")),
                    None,
                    &json!({"office_code": office, "items": [{"service_code": service, "quantity": 1}]}),
                )
                .await;
            if reply.status == StatusCode::CREATED {
                offers.push((office, service));
            }
        }
    }
    assert!(
        offers.iter().any(|(office, _)| *office == "0320")
            && offers.iter().any(|(office, _)| *office == "1201"),
        "{offers:?}"
    );
    println!("offers: {offers:?}");

    // Intents with sandbox attempts, created 16 at a time (offices and services drawn first,
    // so a seed still names one workload).
    let picks: Vec<(&str, &str)> = (0..INTENTS)
        .map(|_| *offers.choose(&mut rng).unwrap())
        .collect();
    let app_ref = &app;
    let payings: Vec<Paying> = futures_util::stream::iter(picks.into_iter().enumerate())
        .map(|(n, (office, service))| async move {
            let quote = app_ref
                .post(
                    "/v1/quotes",
                    Some(app_ref.key("workflow")),
                    None,
                    &json!({"office_code": office, "items": [{"service_code": service, "quantity": 1}]}),
                )
                .await;
            assert_eq!(quote.status, StatusCode::CREATED, "{}", quote.body);
            let case_reference = format!("{office}R{n:05}");
            let intent = app_ref
                .post(
                    "/v1/payment-intents",
                    Some(app_ref.key("workflow")),
                    Some(&format!("intent-{case_reference}")),
                    &json!({"quote_id": quote.body["id"], "case_reference": case_reference, "payer": {"name": "Sok Dara", "phone": "+85512345678"}}),
                )
                .await;
            assert_eq!(intent.status, StatusCode::CREATED, "{}", intent.body);
            let intent_id = intent.body["id"].as_str().unwrap().to_owned();
            let attempt = app_ref.sandbox_attempt(&intent_id).await;
            Paying {
                intent_id,
                case_reference,
                reference: attempt["provider_reference"].as_str().unwrap().to_owned(),
                amount: attempt["amount"]["amount"].as_str().unwrap().to_owned(),
                currency: attempt["amount"]["currency"].as_str().unwrap().to_owned(),
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    println!(
        "{} intents ready after {:?}",
        payings.len(),
        started.elapsed()
    );

    // The callbacks: the right amount for each, plus duplicates, second payments, wrong amounts.
    let mut sends = Vec::new();
    let (mut duplicates, mut second_payments, mut wrong_amounts) = (0, 0, 0);
    for (n, paying) in payings.iter().enumerate() {
        let copies = if rng.gen_bool(0.3) {
            rng.gen_range(2..=5)
        } else {
            1
        };
        duplicates += copies - 1;
        sends.push(Send {
            body: body(paying, &format!("sbx_rand_{seed}_{n}_pay"), &paying.amount),
            copies,
        });
        if rng.gen_bool(0.1) {
            second_payments += 1;
            let copies = rng.gen_range(1..=3);
            duplicates += copies - 1;
            sends.push(Send {
                body: body(
                    paying,
                    &format!("sbx_rand_{seed}_{n}_again"),
                    &paying.amount,
                ),
                copies,
            });
        }
        if rng.gen_bool(0.1) {
            wrong_amounts += 1;
            let right: i64 = paying.amount.parse().unwrap();
            let wrong = if rng.gen_bool(0.5) {
                right / 2
            } else {
                right + 100
            };
            let copies = rng.gen_range(1..=2);
            duplicates += copies - 1;
            sends.push(Send {
                body: body(
                    paying,
                    &format!("sbx_rand_{seed}_{n}_wrong"),
                    &wrong.to_string(),
                ),
                copies,
            });
        }
    }
    // Every copy is one request, to a random instance, in random order.
    let mut requests: Vec<(usize, Value)> = sends
        .iter()
        .flat_map(|send| std::iter::repeat_n(send.body.clone(), send.copies))
        .map(|body| (rng.gen_range(0..bases.len()), body))
        .collect();
    requests.shuffle(&mut rng);
    let request_count = requests.len();
    let limit = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    for (instance, body) in requests {
        let permit = limit.clone().acquire_owned().await.unwrap();
        let http = app.http.clone();
        let base = bases[instance].clone();
        tasks.spawn(async move {
            let status = send_callback(&http, &base, &body).await;
            drop(permit);
            status
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let unexpected = second_payments + wrong_amounts;
    println!(
        "callbacks: {} payments, {request_count} requests, {duplicates} duplicates, \
         {second_payments} second payments, {wrong_amounts} wrong amounts",
        payings.len()
    );

    // Reversals: distinct entries, some twice at once, all concurrently.
    let entry_ids: Vec<i64> = sqlx::query_scalar("select id from ledger_entries order by id")
        .fetch_all(&pool)
        .await
        .unwrap();
    let targets: Vec<i64> = entry_ids.choose_multiple(&mut rng, 60).copied().collect();
    let mut attempts: Vec<i64> = targets.clone();
    attempts.extend(targets.choose_multiple(&mut rng, 15).copied());
    attempts.shuffle(&mut rng);
    let mut tasks = JoinSet::new();
    for (n, entry) in attempts.iter().enumerate() {
        tasks.spawn(try_reverse(
            pool.clone(),
            *entry,
            format!("test:reversal:{seed}:{n}"),
        ));
    }
    let mut reversed: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut refusals = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (entry, result) = done.unwrap();
        match result {
            Ok(reversal) => reversed.entry(entry).or_default().push(reversal),
            Err(error) => refusals.push((entry, error)),
        }
    }
    for (entry, refusal) in &refusals {
        println!("second reversal of {entry} refused: {refusal}");
    }
    for entry in &targets {
        assert_eq!(
            reversed.get(entry).map(Vec::len),
            Some(1),
            "entry {entry}: {reversed:?}, refusals {refusals:?}"
        );
    }
    assert_eq!(
        refusals.len(),
        attempts.len() - targets.len(),
        "{refusals:?}"
    );
    // Reversing a reversal is refused, even several at once.
    let reversals: Vec<i64> = reversed.values().flatten().copied().collect();
    let mut tasks = JoinSet::new();
    for (n, entry) in reversals.choose_multiple(&mut rng, 4).enumerate() {
        tasks.spawn(try_reverse(
            pool.clone(),
            *entry,
            format!("test:reversal-of-reversal:{seed}:{n}"),
        ));
    }
    let mut reversal_refusals = 0;
    while let Some(done) = tasks.join_next().await {
        let (entry, result) = done.unwrap();
        let refusal = result.expect_err("a reversal was reversed");
        println!("reversal of reversal {entry} refused: {refusal}");
        reversal_refusals += 1;
    }
    println!(
        "reversals: {} posted, {} double attempts refused, {reversal_refusals} reversals of reversals refused",
        reversals.len(),
        refusals.len()
    );

    // Every currency sums to zero, by the trial balance and by the raw postings.
    let totals = trial_totals(&pool, None).await;
    let mut per_currency: BTreeMap<String, i64> = BTreeMap::new();
    for (account, (debit, credit)) in &totals {
        let currency = account.rsplit(':').next().unwrap().to_owned();
        *per_currency.entry(currency).or_default() += debit - credit;
    }
    assert!(
        per_currency.values().all(|sum| *sum == 0),
        "{per_currency:?}"
    );
    let raw: Vec<(String, i64)> = sqlx::query_as(
        "select currency::text, sum(amount_minor)::int8 from ledger_postings group by currency",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(!raw.is_empty());
    assert!(raw.iter().all(|(_, sum)| *sum == 0), "{raw:?}");
    let http_balance = app
        .get("/v1/ledger/trial-balance", Some(app.key("auditor")))
        .await;
    assert_eq!(http_balance.status, StatusCode::OK, "{}", http_balance.body);
    for total in http_balance.body["totals"].as_array().unwrap() {
        assert_eq!(total["balance"], "0", "{total}");
    }

    // One entry per idempotency key.
    let repeated: Vec<(String, i64)> = sqlx::query_as(
        "select idempotency_key, count(*) from ledger_entries
         where idempotency_key is not null group by 1 having count(*) > 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(repeated.is_empty(), "{repeated:?}");
    let keyed = app
        .scalar_i64("select count(*) from ledger_entries where kind <> 'reversal'")
        .await;
    let distinct_transactions = (payings.len() + unexpected) as i64;
    assert_eq!(
        keyed, distinct_transactions,
        "one entry per distinct transaction id"
    );

    // Every intent is paid, once.
    for paying in &payings {
        let intent = app
            .get(
                &format!("/v1/payment-intents/{}", paying.intent_id),
                Some(app.key("workflow")),
            )
            .await;
        assert_eq!(intent.body["status"], "paid", "{}", intent.body);
        assert_eq!(
            intent.body["amount_paid"]["amount"], paying.amount,
            "{}",
            intent.body
        );
    }
    let paid_events: Vec<(String, i64)> = sqlx::query_as(
        "select payload->'data'->>'case_reference', count(*) from outbox_events
         where event_type = 'payment.paid' group by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let paid_events: HashMap<String, i64> = paid_events.into_iter().collect();
    for paying in &payings {
        assert_eq!(
            paid_events.get(&paying.case_reference),
            Some(&1),
            "{}",
            paying.case_reference
        );
    }
    assert_eq!(paid_events.len(), payings.len());

    // Suspense: one entry per unexpected transaction id.
    let suspense = app
        .scalar_i64("select count(*) from ledger_entries where kind = 'suspense'")
        .await;
    assert_eq!(suspense, unexpected as i64);

    // No entry reversed twice, no reversal reversed.
    assert_eq!(
        app.scalar_i64(
            "select count(*) from (select reverses_entry_id from ledger_entries
             where reverses_entry_id is not null group by 1 having count(*) > 1) twice"
        )
        .await,
        0
    );
    assert_eq!(
        app.scalar_i64(
            "select count(*) from ledger_entries r join ledger_entries o on o.id = r.reverses_entry_id
             where o.reverses_entry_id is not null"
        )
        .await,
        0
    );
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_entries where reverses_entry_id is not null")
            .await,
        targets.len() as i64
    );

    // Seal everything, then the chain verifies over every entry.
    let total_entries = app.scalar_i64("select count(*) from ledger_entries").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sealed_by_rounds = 0;
    loop {
        sealed_by_rounds += payments::workers::sealer::round(&pool, None).await.unwrap();
        let unsealed = app
            .scalar_i64(
                "select count(*) from ledger_entries e
                 where not exists (select 1 from ledger_seals s where s.entry_id = e.id)",
            )
            .await;
        if unsealed == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{unsealed} entries left unsealed"
        );
        // The horizon is cluster-wide: a parallel test's transaction can hold it back a moment.
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sealed_by_rounds as i64, total_entries);
    let report = payments::app::books::verify::verify_ledger(&pool, &[])
        .await
        .unwrap();
    assert!(
        report.ok,
        "{:?} {:?}",
        report.first_bad_entry, report.reason
    );
    assert_eq!(report.entries_checked, total_entries);
    assert_eq!(report.head_seq, total_entries);
    let over_http = app.get("/v1/ledger/verify", Some(app.key("auditor"))).await;
    assert_eq!(over_http.body["ok"], true, "{}", over_http.body);
    assert_eq!(over_http.body["entries_checked"], total_entries);

    // Balances as of random instants (some exactly at an entry's time) match the postings.
    let times: Vec<DateTime<Utc>> =
        sqlx::query_scalar("select created_at from ledger_entries order by created_at")
            .fetch_all(&pool)
            .await
            .unwrap();
    let (first, last) = (times[0], times[times.len() - 1]);
    let span = (last - first).num_microseconds().unwrap().max(1);
    let mut instants = vec![first, last];
    instants.push(*times.choose(&mut rng).unwrap());
    for _ in 0..4 {
        instants.push(first + chrono::Duration::microseconds(rng.gen_range(0..=span)));
    }
    let mut checked = HashSet::new();
    for instant in instants {
        if !checked.insert(instant) {
            continue;
        }
        let expected = recomputed(&pool, instant).await;
        let actual = trial_totals(&pool, Some(instant)).await;
        assert_eq!(actual, expected, "trial balance as of {instant}");
    }
    assert_eq!(trial_totals(&pool, Some(last)).await, totals);

    println!(
        "ledger_random: seed {seed}, {} payments, {duplicates} duplicates, {unexpected} unexpected, \
         {} reversals, {total_entries} entries sealed, {} instants, {:?}",
        payings.len(),
        reversals.len(),
        checked.len(),
        started.elapsed()
    );
}
