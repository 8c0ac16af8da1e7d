#!/usr/bin/env bash
# Matching bench (issue 15): the pure matcher over a month of one busy office (30,000 items)
# and of all 204 offices (1,000,000 items), per office and in one call: wall time, peak memory
# (VmHWM), matched and unmatched counts. No database. Knobs: BENCH_OFFICE_ITEMS,
# BENCH_ALL_ITEMS, BENCH_SEED (see payments/examples/bench_matching.rs); bench/recon/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --quiet -p payments --example bench_matching
