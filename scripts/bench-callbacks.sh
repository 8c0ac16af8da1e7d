#!/usr/bin/env bash
# Sandbox bank callbacks end to end over HTTP, against a release build of the service:
# signed POST /v1/callbacks/sandbox → signature check → settlement (ledger entry, receipt number,
# outbox event) → 2xx. Load generator: tests/examples/bench_callbacks.rs.
#
# Release build (payments, bank-sim, the generator) → fresh database owso_bench_callbacks on the
# server of DATABASE_URL (dropped first if it exists; left behind for inspection) → payments
# migrate, payments seed --demo → bank-sim and payments serve in the background (RUST_LOG=warn)
# → both answer → closed loop (BENCH_CONCURRENCY workers for BENCH_SECONDS) → open loop at half
# the closed loop's throughput for BENCH_SECONDS, on fresh intents → both JSON lines on stdout.
# The services are stopped on exit. Measures, never asserts a timing: exits 0 unless a step
# fails, a callback fails or the ledger check does not add up.
#
# Intents: the generator creates all its intents (each with a pending sandbox attempt) before
# the clock starts and never during the measured phase. The closed loop gets BENCH_INTENTS of
# them; if they run out it stops early and says so ("exhausted":true) — raise BENCH_INTENTS.
# The open loop gets rate × seconds × 1.1 + 200. Each run first sends BENCH_WARMUP more
# callbacks, unmeasured, then runs ANALYZE (autovacuum's job on a production server; the test
# machines run PostgreSQL with autovacuum off), so the measure phase sees steady state.
#
# Environment:
#   DATABASE_URL        server to use (default postgres://postgres@127.0.0.1:5432/postgres); its
#                       role must be allowed to create databases. Only owso_bench_callbacks is
#                       dropped and created there.
#   BENCH_CONCURRENCY   closed-loop workers (default 16; also the open loop's connection pool)
#   BENCH_SECONDS       measured seconds per run (default 10)
#   BENCH_INTENTS       intents prepared for the closed loop (default 30000)
#   BENCH_WARMUP        unmeasured callbacks before each run (default 1000)
#   BENCH_OFFICE        office(s) of the intents, comma-separated (default 0320)
#   BENCH_PORT, BENCH_BANK_PORT   ports on 127.0.0.1 (default 18180, 18181)
#   plus anything `payments serve` reads (.env.example), e.g. DB_MAX_CONNECTIONS; .env is not read.
# Output: target/bench/callbacks/{closed,open}.json, service.log, bank-sim.log.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

CONCURRENCY=${BENCH_CONCURRENCY:-16}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
INTENTS=${BENCH_INTENTS:-30000}
WARMUP=${BENCH_WARMUP:-1000}
OFFICE=${BENCH_OFFICE:-0320}
PORT=${BENCH_PORT:-18180}
BANK_PORT=${BENCH_BANK_PORT:-18181}
ADMIN_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB_NAME=owso_bench_callbacks
API_KEY=opk_demo_workflow
SECRET=bench-callbacks-secret
OUT=target/bench/callbacks

say() { printf '%s\n' "$*" >&2; }
die() {
    say "bench-callbacks: $*"
    exit 1
}

[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a whole number"
for pair in "BENCH_CONCURRENCY:$CONCURRENCY" "BENCH_SECONDS:$SECONDS_PER_RUN" "BENCH_INTENTS:$INTENTS" \
    "BENCH_PORT:$PORT" "BENCH_BANK_PORT:$BANK_PORT"; do
    [[ ${pair#*:} =~ ^[1-9][0-9]*$ ]] || die "${pair%%:*} must be a whole number ≥ 1"
done
command -v psql >/dev/null 2>&1 || die "psql is needed to create the database $DB_NAME"

BENCH_URL=$(url_with_db "$ADMIN_URL" "$DB_NAME")
# The bench database cannot be dropped from a connection to itself.
if [[ $ADMIN_URL == "$BENCH_URL" ]]; then ADMIN_URL=$(url_with_db "$ADMIN_URL" postgres); fi

for port in "$PORT" "$BANK_PORT"; do
    if port_taken "127.0.0.1:$port"; then die "127.0.0.1:$port is in use; set BENCH_PORT / BENCH_BANK_PORT"; fi
done

say "==> cargo build --release -p payments -p bank-adapters --bins"
cargo build --release -p payments -p bank-adapters --bins
say "==> cargo build --release -p e2e --example bench_callbacks"
cargo build --release -p e2e --example bench_callbacks
BIN=${CARGO_TARGET_DIR:-target}/release
GEN=$BIN/examples/bench_callbacks

mkdir -p "$OUT"
rm -f "$OUT"/closed.json "$OUT"/open.json

say "==> database $DB_NAME (dropped if it existed, then created)"
psql "$ADMIN_URL" -X -q -v ON_ERROR_STOP=1 \
    -c "drop database if exists $DB_NAME with (force)" \
    -c "create database $DB_NAME" >&2
export DATABASE_URL=$BENCH_URL
# The sandbox and demo keys are development settings (docs/RUNNING.md, "Profiles").
export OWSO_ENV=development
"$BIN/payments" migrate >&2
seed_json=$("$BIN/payments" seed --demo)
grep -q "\"$API_KEY\"" <<<"$seed_json" || die "the demo seed printed no key $API_KEY"

trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SERVICE_URL=http://127.0.0.1:$PORT
BANK_URL=http://127.0.0.1:$BANK_PORT
LISTEN_ADDR=127.0.0.1:$BANK_PORT PUBLIC_BASE_URL=$BANK_URL CALLBACK_BASE_URL=$SERVICE_URL \
    SANDBOX_CALLBACK_SECRET=$SECRET RUST_LOG=warn LOG_FORMAT= \
    "$BIN/bank-sim" >"$OUT/bank-sim.log" 2>&1 &
bank_pid=$!
pids+=("$bank_pid")
# Attempts live a day so a long setup never sees them expire before their callback.
LISTEN_ADDR=127.0.0.1:$PORT PUBLIC_BASE_URL=$SERVICE_URL SANDBOX_ENABLED=true BANK_SIM_URL=$BANK_URL \
    SANDBOX_API_URL= SANDBOX_CALLBACK_SECRET=$SECRET ATTEMPT_TTL_S=86400 RUST_LOG=warn LOG_FORMAT= \
    METRICS_LISTEN_ADDR=127.0.0.1:0 RATE_LIMIT_CALLBACK_ADDRESS_PER_MIN=0 \
    "$BIN/payments" serve >"$OUT/service.log" 2>&1 &
payments_pid=$!
pids+=("$payments_pid")

both_up() { answers_2xx "127.0.0.1:$PORT" /readyz && answers_2xx "127.0.0.1:$BANK_PORT" /healthz; }
wait_up "$OUT" both_up "service:$payments_pid" "bank-sim:$bank_pid" ||
    die "the service (/readyz) and bank-sim (/healthz) did not both come up"
say "==> service $SERVICE_URL and bank-sim $BANK_URL are up (database $DB_NAME)"

common=(--base-url "$SERVICE_URL" --api-key "$API_KEY" --sandbox-secret "$SECRET" --office "$OFFICE"
    --concurrency "$CONCURRENCY" --seconds "$SECONDS_PER_RUN" --warmup "$WARMUP" --json)
status=0

say "==> closed loop: $CONCURRENCY workers, ${SECONDS_PER_RUN} s, $INTENTS intents prepared"
"$GEN" "${common[@]}" --intents "$INTENTS" >"$OUT/closed.json" || status=$?
[[ -s $OUT/closed.json ]] || die "the closed loop printed nothing (exit $status)"
cat "$OUT/closed.json"
say "    (load average now: $(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo unknown); $(nproc) CPUs shared by PostgreSQL, the service and the generator)"

throughput=$(sed -n 's/.*"throughput":\([0-9][0-9]*\).*/\1/p' "$OUT/closed.json")
[[ -n $throughput ]] || die "no throughput in $OUT/closed.json"
rate=$((throughput / 2))
((rate >= 1)) || rate=1
open_intents=$((rate * SECONDS_PER_RUN * 11 / 10 + 200))

say "==> open loop: $rate callbacks/s (half the closed loop's $throughput/s), ${SECONDS_PER_RUN} s, $open_intents fresh intents"
"$GEN" "${common[@]}" --intents "$open_intents" --rate "$rate" >"$OUT/open.json" || status=$?
[[ -s $OUT/open.json ]] || die "the open loop printed nothing (exit $status)"
cat "$OUT/open.json"
say "    (load average now: $(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo unknown))"

if ((status != 0)); then
    say "bench-callbacks: a run reported failed callbacks or a ledger mismatch (see above; logs in $OUT)"
fi
exit "$status"
