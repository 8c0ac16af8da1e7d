#!/usr/bin/env bash
# `make bench`, throughput part: four write workloads against the same PostgreSQL,
# in one run, each with the same number of concurrent clients, and their ratios to (a):
#
#   (a) pgbench's built-in tpcb-like workload (scale = clients, so branches are not one row)
#   (b) ledger entries through the ledger library's GroupCommitter, every writer in one office
#   (c) the same spread over 204 offices
#   (d) sandbox callbacks end to end over HTTP against the release service (signed callback →
#       inbox → verify → ledger entry → intent paid → outbox), closed loop; then an open loop
#       at half of that rate for the latency percentiles
#
# Measures, never asserts: it exits 0 unless a step fails. Creates (and leaves, for
# inspection) the databases owso_bench_pgbench, owso_bench_posting and owso_bench_callbacks.
#
# Environment:
#   BENCH_CONCURRENCY   clients / writers / callback senders (default 64: pgbench is at its
#                       plateau from 16 clients on; group commit keeps scaling with writers)
#   BENCH_SECONDS       measured seconds per row (default 10)
#   DATABASE_URL        server to use (default: scripts/pg-up.sh finds or starts one)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

CLIENTS=${BENCH_CONCURRENCY:-64}
SECONDS_PER_ROW=${BENCH_SECONDS:-10}
OUT=target/bench/throughput
say() { printf '%s\n' "$*" >&2; }
die() {
    say "bench-throughput: $*"
    exit 1
}
[[ $CLIENTS =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONCURRENCY must be a whole number ≥ 1"
[[ $SECONDS_PER_ROW =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a whole number ≥ 1"
if [[ -z ${DATABASE_URL:-} ]]; then
    DATABASE_URL=$(scripts/pg-up.sh)
fi
export DATABASE_URL BENCH_CONCURRENCY=$CLIENTS BENCH_SECONDS=$SECONDS_PER_ROW
mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl "$OUT"/pgbench.txt


# Value of "KEY":NUMBER in the JSON line of FILE whose "row" or "mode" is ROW.
field() {
    local file=$1 row=$2 key=$3
    grep -E "\"(row|mode)\":\"$row\"" "$file" 2>/dev/null | head -n 1 |
        sed -n "s/.*\"$key\":\([0-9][0-9.]*\).*/\1/p"
}

# a/b with two decimals, integer arithmetic (inputs may carry a fraction; it is dropped).
ratio() {
    local a=${1%%.*} b=${2%%.*}
    if [[ -z $a || -z $b || $b -eq 0 ]]; then
        printf 'n/a'
        return
    fi
    local hundredths=$(((a * 100 + b / 2) / b))
    printf '%d.%02d' $((hundredths / 100)) $((hundredths % 100))
}

say "==> building release binaries"
cargo build --release --quiet -p ledger --example bench_ledger

# (a) pgbench
TPS_A=''
if command -v pgbench >/dev/null 2>&1 && command -v psql >/dev/null 2>&1; then
    say "==> (a) pgbench tpcb-like: scale $CLIENTS, $CLIENTS clients, ${SECONDS_PER_ROW} s"
    psql "$DATABASE_URL" -qAtc 'drop database if exists owso_bench_pgbench with (force)' >/dev/null
    psql "$DATABASE_URL" -qAtc 'create database owso_bench_pgbench' >/dev/null
    PGBENCH_URL=$(url_with_db "$DATABASE_URL" owso_bench_pgbench)
    pgbench -i -q -s "$CLIENTS" "$PGBENCH_URL" >"$OUT/pgbench-init.txt" 2>&1
    pgbench -b tpcb-like -c "$CLIENTS" -j 2 -T "$SECONDS_PER_ROW" "$PGBENCH_URL" >"$OUT/pgbench.txt" 2>&1
    TPS_A=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$OUT/pgbench.txt" | head -n 1)
else
    say "==> (a) skipped: pgbench or psql is not installed (Debian: postgresql-contrib / postgresql-client)"
fi

# (b), (c)
say "==> (b), (c) ledger GroupCommitter: $CLIENTS writers, ${SECONDS_PER_ROW} s per row"
BENCH_PART=posting target/release/examples/bench_ledger | tee "$OUT/ledger.jsonl" >&2

# (d)
say "==> (d) sandbox callbacks over HTTP"
scripts/bench-callbacks.sh | tee "$OUT/callbacks.jsonl" >&2

B=$(field "$OUT/ledger.jsonl" ledger_one_office per_s)
C=$(field "$OUT/ledger.jsonl" ledger_204_offices per_s)
B0=$(field "$OUT/ledger.jsonl" ledger_one_office_unbatched per_s)
C0=$(field "$OUT/ledger.jsonl" ledger_204_offices_unbatched per_s)
D=$(field "$OUT/callbacks.jsonl" closed throughput)
D_P99=$(field "$OUT/callbacks.jsonl" closed p99_ms)
HALF_RATE=$(field "$OUT/callbacks.jsonl" open rate)
HALF_OK=$(field "$OUT/callbacks.jsonl" open throughput)
HALF_P50=$(field "$OUT/callbacks.jsonl" open p50_ms)
HALF_P99=$(field "$OUT/callbacks.jsonl" open p99_ms)

row() { printf '%-58s %12s %10s   %s\n' "$@"; }
echo
echo "Write throughput against one PostgreSQL, $CLIENTS concurrent clients each, ${SECONDS_PER_ROW} s per row"
echo "machine: $(nproc) cores; $(psql "$DATABASE_URL" -qAtc 'show server_version' 2>/dev/null | sed 's/^/PostgreSQL /'), synchronous_commit=$(psql "$DATABASE_URL" -qAtc 'show synchronous_commit' 2>/dev/null)"
echo
row "row" "per second" "ratio/(a)" "target"
row "(a) pgbench tpcb-like (transactions)" "${TPS_A%%.*}" "1.00" ""
row "(b) ledger entries, GroupCommitter, 1 office" "${B:-n/a}" "$(ratio "$B" "$TPS_A")" "(b)/(a) >= 1.0"
row "(c) ledger entries, GroupCommitter, 204 offices" "${C:-n/a}" "$(ratio "$C" "$TPS_A")" "(b)/(c) >= 0.9: $(ratio "$B" "$C")"
row "(d) sandbox callbacks over HTTP, closed loop" "${D%%.*}" "$(ratio "$D" "$TPS_A")" "(d)/(a) >= 0.5"
row "    for reference: (b) one transaction per entry" "${B0:-n/a}" "$(ratio "$B0" "$TPS_A")" ""
row "    for reference: (c) one transaction per entry" "${C0:-n/a}" "$(ratio "$C0" "$TPS_A")" ""
echo
echo "callback latency, closed loop at peak: p99 ${D_P99:-n/a} ms"
echo "callback latency, open loop at ${HALF_RATE:-n/a}/s (half of peak; ${HALF_OK:-n/a}/s answered): p50 ${HALF_P50:-n/a} ms, p99 ${HALF_P99:-n/a} ms (target p99 < 50 ms)"
echo "raw output: $OUT/"
