#!/usr/bin/env bash
# `make bench-console`: server time of the console pages at the seed's scale (UI.md: 204
# offices, 2,000,000 intents; budget 300 ms a page), against a release build.
#
# Release build → fresh database owso_bench_console (dropped first; left for inspection) →
# payments migrate, payments seed --demo → payments serve → one real quote and intent per
# office through the API → bench/console/fill.sql copies them to BENCH_INTENTS intents over
# the past year → the demo cashier logs in, opens a drawer and takes a cash payment through the
# console's own forms → each page is fetched BENCH_SAMPLES times (after one unmeasured fetch)
# and its time to the first byte measured on loopback (curl's time_starttransfer: the server's
# time plus a loopback round trip). Prints a table: median, p95 and max per page, and the ratio
# of the p95 to the 300 ms budget. Measures, never asserts a time: exits 0 unless a step fails.
#
# Environment:
#   DATABASE_URL    server to use (default postgres://postgres@127.0.0.1:5432/postgres); its role
#                   must be allowed to create databases. Only owso_bench_console is dropped.
#   BENCH_INTENTS   intents in the database (default 2000000)
#   BENCH_SAMPLES   fetches per page (default 30)
#   BENCH_PORT      port on 127.0.0.1 (default 18190)
# Output: target/bench/console/{pages.txt,service.log}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

INTENTS=${BENCH_INTENTS:-2000000}
SAMPLES=${BENCH_SAMPLES:-30}
PORT=${BENCH_PORT:-18190}
ADMIN_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB_NAME=owso_bench_console
WORKFLOW_KEY=opk_demo_workflow
CASHIER=cashier.0320
PASSWORD=owso-demo-pass
OFFICE=0320
SERVICE=labour.internal_regulations_8_100
BUDGET_MS=300
OUT=target/bench/console

say() { printf '%s\n' "$*" >&2; }
die() {
    say "bench-console: $*"
    exit 1
}
for pair in "BENCH_INTENTS:$INTENTS" "BENCH_SAMPLES:$SAMPLES" "BENCH_PORT:$PORT"; do
    [[ ${pair#*:} =~ ^[1-9][0-9]*$ ]] || die "${pair%%:*} must be a whole number ≥ 1"
done
command -v psql >/dev/null 2>&1 || die "psql is needed to create and fill $DB_NAME"
command -v curl >/dev/null 2>&1 || die "curl is needed to fetch the pages"
port_taken "127.0.0.1:$PORT" && die "127.0.0.1:$PORT is in use; set BENCH_PORT"

BENCH_URL=$(url_with_db "$ADMIN_URL" "$DB_NAME")
if [[ $ADMIN_URL == "$BENCH_URL" ]]; then ADMIN_URL=$(url_with_db "$ADMIN_URL" postgres); fi

say "==> cargo build --release -p payments --bins"
cargo build --release -p payments --bins
BIN=${CARGO_TARGET_DIR:-target}/release
mkdir -p "$OUT"
rm -f "$OUT/pages.txt"

say "==> database $DB_NAME (dropped if it existed, then created)"
psql "$ADMIN_URL" -X -q -v ON_ERROR_STOP=1 \
    -c "drop database if exists $DB_NAME with (force)" -c "create database $DB_NAME" >&2
export DATABASE_URL=$BENCH_URL OWSO_ENV=development
"$BIN/payments" migrate >&2
"$BIN/payments" seed --demo >/dev/null

trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
BASE=http://127.0.0.1:$PORT
LISTEN_ADDR=127.0.0.1:$PORT PUBLIC_BASE_URL=$BASE RUST_LOG=warn LOG_FORMAT= \
    METRICS_LISTEN_ADDR=127.0.0.1:0 \
    "$BIN/payments" serve >"$OUT/service.log" 2>&1 &
service_pid=$!
pids+=("$service_pid")
up() { answers_2xx "127.0.0.1:$PORT" /readyz; }
wait_up "$OUT" up "service:$service_pid" || die "the service did not come up (see $OUT/service.log)"

json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" | head -n 1; }
api_post() {
    curl -fsS -X POST "$BASE$1" -H "Authorization: Bearer $WORKFLOW_KEY" \
        -H 'Content-Type: application/json' -H "Idempotency-Key: $2" -d "$3"
}

say "==> one quote and intent per office through the API"
offices=$(psql "$BENCH_URL" -X -qAt -c "select code from offices where code <> '0000' order by code")
n=0
for office in $offices; do
    quote=$(api_post /v1/quotes "q-$office" \
        "{\"office_code\":\"$office\",\"items\":[{\"service_code\":\"$SERVICE\",\"quantity\":1}]}" |
        json_field id)
    [[ -n $quote ]] || die "no quote for office $office"
    api_post /v1/payment-intents "i-$office" \
        "{\"quote_id\":\"$quote\",\"case_reference\":\"T$office\",\"payer\":{\"name\":\"Bench\"}}" >/dev/null
    n=$((n + 1))
done
say "    $n offices"

say "==> $INTENTS intents over the past year (bench/console/fill.sql)"
start=$(date +%s)
psql "$BENCH_URL" -X -q -v ON_ERROR_STOP=1 -v total="$INTENTS" -f bench/console/fill.sql >&2
say "    filled in $(($(date +%s) - start)) s: $(psql "$BENCH_URL" -X -qAt -c 'select count(*) from payment_intents') intents"

# A person at the counter: log in (cookie jar), open a drawer, take one payment, all through
# the console's forms, so the pages below show a working day.
JAR=$OUT/cookies.txt
rm -f "$JAR"
form_field() { sed -n "s/.*name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" | head -n 1; }
curl -fsS -c "$JAR" -b "$JAR" -o /dev/null -X POST "$BASE/console/login" \
    --data-urlencode "username=$CASHIER" --data-urlencode "password=$PASSWORD" --data-urlencode next=/console
page() { curl -fsS -b "$JAR" -c "$JAR" "$BASE$1"; }
csrf=$(page /console | form_field csrf)
[[ -n $csrf ]] || die "no CSRF token on the dashboard: did the login work?"
drawer_json=$(curl -fsS -b "$JAR" -X POST "$BASE/v1/cashier/sessions" -H "X-CSRF-Token: $csrf" \
    -H 'Content-Type: application/json' \
    -d "{\"office_code\":\"$OFFICE\",\"opening_float\":[{\"amount\":\"100000\",\"currency\":\"KHR\"}]}")
drawer=$(json_field id <<<"$drawer_json")
[[ -n $drawer ]] || die "no drawer opened: $drawer_json"
intent=$(psql "$BENCH_URL" -X -qAt -c \
    "select id from payment_intents where office_code = '$OFFICE' and status = 'awaiting_payment' order by created_at desc limit 1")
receipt=$(curl -fsS -b "$JAR" -X POST "$BASE/v1/cashier/sessions/$drawer/receipts" -H "X-CSRF-Token: $csrf" \
    -H 'Content-Type: application/json' -H "Idempotency-Key: bench-$intent" \
    -d "{\"payment_intent_id\":\"$intent\",\"tendered\":{\"amount\":\"600000\",\"currency\":\"KHR\"}}" |
    json_field number)
[[ -n $receipt ]] || die "the cash payment got no receipt number"
open_intent=$(psql "$BENCH_URL" -X -qAt -c \
    "select id from payment_intents where office_code = '$OFFICE' and status = 'awaiting_payment' order by created_at desc limit 1")

pages=(
    "/console?office=$OFFICE"
    "/console/drawer"
    "/console/take"
    "/console/take?q=B1999"
    "/console/take/$open_intent"
    "/console/receipts"
    "/console/receipts/$receipt"
    "/console/drawers"
    "/console/drawers/$drawer/report"
    "/console/drawers/$drawer/report.csv"
    "/console/drawer/close"
)

# Nearest-rank percentile $2 (0-100) of the sorted numbers on stdin.
percentile() { awk -v p="$2" '{ v[NR] = $1 } END { i = int((p * NR + 99) / 100); if (i < 1) i = 1; print v[i] }' <"$1"; }

printf '%-44s %8s %8s %8s %8s  %s\n' page median_ms p95_ms max_ms p95/300 status | tee "$OUT/pages.txt" >&2
for path in "${pages[@]}"; do
    status=$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" "$BASE$path")
    if [[ $status != 200 ]]; then
        printf '%-44s %8s %8s %8s %8s  %s\n' "$path" - - - - "HTTP $status (skipped)" | tee -a "$OUT/pages.txt" >&2
        continue
    fi
    times=$OUT/times.txt
    : >"$times"
    for _ in $(seq "$SAMPLES"); do
        curl -s -o /dev/null -b "$JAR" -w '%{time_starttransfer}\n' "$BASE$path" |
            awk '{ printf "%.1f\n", $1 * 1000 }' >>"$times"
    done
    sort -n "$times" -o "$times"
    median=$(percentile "$times" 50)
    p95=$(percentile "$times" 95)
    max=$(tail -n 1 "$times")
    ratio=$(awk -v a="$p95" -v b="$BUDGET_MS" 'BEGIN { printf "%.2f", a / b }')
    printf '%-44s %8s %8s %8s %8s  %s\n' "$path" "$median" "$p95" "$max" "$ratio" ok | tee -a "$OUT/pages.txt" >&2
done
say "(load average: $(cut -d ' ' -f 1-3 /proc/loadavg); $(nproc) CPUs shared by PostgreSQL, the service and curl)"
