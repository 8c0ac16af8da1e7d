#!/usr/bin/env bash
# `make bench-books`: server time of the books and the dashboard at and beyond the seed's scale
# (issue 16: 204 offices, two years, about 4 M intents and 10 M postings; budget 300 ms), against
# a release build and the database of `make demo-data` (made first when it is missing).
#
# payments serve on that database → the demo auditor logs in through the console's form →
# each request is fetched BENCH_SAMPLES times after one unmeasured fetch, national (key
# opk_demo_auditor) and for one office (opk_demo_auditor_1201), and its time to the first byte
# measured on loopback (curl's time_starttransfer: the server's time plus a loopback round
# trip). Prints a table: median, p95 and max per request and the ratio of the p95 to the 300 ms
# budget; a route that answers 404 is "not built" (the reports routes and pages of issue 16
# come from other parts of it). Measures, never asserts: exits 0 unless a step fails.
#
# Environment:
#   DATABASE_URL    server to use (default postgres://postgres@127.0.0.1:5432/postgres)
#   DEMO_DB         the demo-data database (default owso_demo_data); DEMO_INTENTS, DEMO_YEARS
#                   are passed on to scripts/demo-data.sh when it has to be made
#   BENCH_SAMPLES   fetches per request (default 20)
#   BENCH_PORT      port on 127.0.0.1 (default 18191)
# Output: target/bench/books/{requests.txt,service.log}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

SAMPLES=${BENCH_SAMPLES:-20}
PORT=${BENCH_PORT:-18191}
ADMIN_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB_NAME=${DEMO_DB:-owso_demo_data}
NATIONAL_KEY=opk_demo_auditor
OFFICE_KEY=opk_demo_auditor_1201
AUDITOR=auditor
PASSWORD=owso-demo-pass
BUDGET_MS=300
OUT=target/bench/books

say() { printf '%s\n' "$*" >&2; }
die() {
    say "bench-books: $*"
    exit 1
}
for pair in "BENCH_SAMPLES:$SAMPLES" "BENCH_PORT:$PORT"; do
    [[ ${pair#*:} =~ ^[1-9][0-9]*$ ]] || die "${pair%%:*} must be a whole number ≥ 1"
done
command -v psql >/dev/null 2>&1 || die "psql is needed"
command -v curl >/dev/null 2>&1 || die "curl is needed to fetch the pages"
port_taken "127.0.0.1:$PORT" && die "127.0.0.1:$PORT is in use; set BENCH_PORT"

DEMO_URL=$(url_with_db "$ADMIN_URL" "$DB_NAME")
ready=$(psql "$DEMO_URL" -X -qAt -c "select exists (select 1 from ledger_seals)" 2>/dev/null || true)
if [[ $ready != t ]]; then
    say "==> $DB_NAME is missing or not caught up: scripts/demo-data.sh"
    DEMO_DB=$DB_NAME scripts/demo-data.sh
fi

say "==> cargo build --release -p payments --bins"
cargo build --release -p payments --bins
BIN=${CARGO_TARGET_DIR:-target}/release
mkdir -p "$OUT"
rm -f "$OUT/requests.txt"

trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
BASE=http://127.0.0.1:$PORT
DATABASE_URL=$DEMO_URL OWSO_ENV=development LISTEN_ADDR=127.0.0.1:$PORT PUBLIC_BASE_URL=$BASE \
    RUST_LOG=warn LOG_FORMAT= METRICS_LISTEN_ADDR=127.0.0.1:0 \
    "$BIN/payments" serve >"$OUT/service.log" 2>&1 &
service_pid=$!
pids+=("$service_pid")
up() { answers_2xx "127.0.0.1:$PORT" /readyz; }
wait_up "$OUT" up "service:$service_pid" || die "the service did not come up (see $OUT/service.log)"

# The auditor at the console, logged in through the form (cookie jar).
JAR=$OUT/cookies.txt
rm -f "$JAR"
curl -fsS -c "$JAR" -b "$JAR" -o /dev/null -X POST "$BASE/console/login" \
    --data-urlencode "username=$AUDITOR" --data-urlencode "password=$PASSWORD" --data-urlencode next=/console
grep -q . "$JAR" || die "no session cookie after the auditor's login"

# Cambodian dates (UTC+7 all year): the last 30 days, the last year, the whole period.
today=$(TZ=Asia/Phnom_Penh date +%F)
days_ago() { TZ=Asia/Phnom_Penh date -d "$today - $1 days" +%F; }
# The whole history, up to the reports' limit of 732 days.
span=$(psql "$DEMO_URL" -X -qAt -c "select least(731, greatest(1, current_date - min(created_at)::date))::int from payment_intents")
periods=("30d:$(days_ago 29)" "1y:$(days_ago 364)" "all $((span + 1))d:$(days_ago "$span")")
year_ago=$(date -u -d '1 year ago' +%Y-%m-%dT%H:%M:%SZ)

# label|auth|path; auth is a key, or "session" for the console's cookie.
requests=()
for who in "national:$NATIONAL_KEY" "1201:$OFFICE_KEY"; do
    scope=${who%%:*} key=${who#*:}
    requests+=("$scope|$key|/v1/ledger/trial-balance")
    requests+=("$scope|$key|/v1/ledger/trial-balance?as_of=$year_ago")
    for period in "${periods[@]}"; do
        from=${period#*:}
        requests+=("$scope|$key|/v1/reports/intents?from=$from&to=$today")
        for group in office sector channel day; do
            requests+=("$scope|$key|/v1/reports/revenue?group_by=$group&from=$from&to=$today")
        done
    done
done
requests+=("national|session|/console/reports")
for period in "${periods[@]:1}"; do
    requests+=("national|session|/console/reports?from=${period#*:}&to=$today")
done
requests+=("national|session|/console/books")

fetch() { # auth path [curl args...]
    local auth=$1 path=$2
    shift 2
    if [[ $auth == session ]]; then
        curl -s -b "$JAR" "$@" "$BASE$path"
    else
        curl -s -H "Authorization: Bearer $auth" "$@" "$BASE$path"
    fi
}

# Nearest-rank percentile $2 (0-100) of the sorted numbers in file $1.
percentile() { awk -v p="$2" '{ v[NR] = $1 } END { i = int((p * NR + 99) / 100); if (i < 1) i = 1; print v[i] }' <"$1"; }

row() { printf '%-9s %-68s %8s %8s %8s %8s  %s\n' "$@" | tee -a "$OUT/requests.txt" >&2; }
row scope request median_ms p95_ms max_ms p95/300 status
for request in "${requests[@]}"; do
    IFS='|' read -r scope auth path <<<"$request"
    # The unmeasured fetch: also tells whether the route exists yet.
    status=$(fetch "$auth" "$path" -o /dev/null -w '%{http_code}')
    if [[ $status == 404 ]]; then
        row "$scope" "$path" - - - - "not built (404)"
        continue
    elif [[ $status != 200 ]]; then
        row "$scope" "$path" - - - - "HTTP $status (skipped)"
        continue
    fi
    times=$OUT/times.txt
    : >"$times"
    for _ in $(seq "$SAMPLES"); do
        fetch "$auth" "$path" -o /dev/null -w '%{time_starttransfer}\n' |
            awk '{ printf "%.1f\n", $1 * 1000 }' >>"$times"
    done
    sort -n "$times" -o "$times"
    median=$(percentile "$times" 50)
    p95=$(percentile "$times" 95)
    max=$(tail -n 1 "$times")
    ratio=$(awk -v a="$p95" -v b="$BUDGET_MS" 'BEGIN { printf "%.2f", a / b }')
    row "$scope" "$path" "$median" "$p95" "$max" "$ratio" ok
done
say "($(psql "$DEMO_URL" -X -qAt -c "select format('%s intents, %s postings', (select count(*) from payment_intents), (select count(*) from ledger_postings))"); load average: $(cut -d ' ' -f 1-3 /proc/loadavg); $(nproc) CPUs shared by PostgreSQL, the service and curl)"
