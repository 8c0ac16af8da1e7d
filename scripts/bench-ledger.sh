#!/usr/bin/env bash
# Ledger bench: trial balance over 1,000,000 postings with and without the daily
# aggregates, posting throughput for 1 office vs 204 offices, sealing and chain verification.
# Uses the PostgreSQL of DATABASE_URL (default: the local one, started if needed) and leaves
# the database owso_bench_ledger behind for inspection. Knobs: BENCH_POSTINGS, BENCH_DAYS,
# BENCH_SEAL (see ledger/examples/bench_ledger.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${DATABASE_URL:-}" ]]; then
    DATABASE_URL=$(scripts/pg-up.sh)
    export DATABASE_URL
fi
exec cargo run --release --quiet -p ledger --example bench_ledger
