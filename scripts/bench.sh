#!/usr/bin/env bash
# `make bench`: KHQR encode+decode throughput of our codec against the official JS SDK
# (npm bakong-khqr@1.0.20) on the same inputs, in one run. See bench/khqr/README.md.
#
# Release build of bank-adapters/examples/khqr_bench.rs → our rows → SDK installed into
# target/bench-node/ when missing (git-ignored, never committed) → the SDK's rows → a table with
# ours/SDK ratios and the mismatch counts of the identical-output check. Without node or npm it
# says so and prints our rows only. Measures, never asserts a timing: exits 0 unless a step fails.
#
# Environment:
#   BENCH_SECONDS     measured seconds per row and side (default 3; each row also warms up 0.5 s)
#   BENCH_VECTORS     vector file (default bank-adapters/tests/data/khqr-vectors.json)
#   BENCH_NODE_DIR    where the SDK is installed (default target/bench-node)
#   CARGO_TARGET_DIR  cargo's build directory, where our binary is taken from (default target)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SDK_PACKAGE=bakong-khqr
SDK_VERSION=1.0.20
SECONDS_PER_ROW=${BENCH_SECONDS:-3}
VECTORS=${BENCH_VECTORS:-bank-adapters/tests/data/khqr-vectors.json}
NODE_DIR=${BENCH_NODE_DIR:-target/bench-node}
OUT=target/bench/khqr
ROWS=(encode+decode encode decode verify)

say() { printf '%s\n' "$*" >&2; }
die() {
    say "make bench: $*"
    exit 1
}

[[ $SECONDS_PER_ROW =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a whole number of seconds ≥ 1"
[[ -f $VECTORS ]] || die "no vector file at $VECTORS"
mkdir -p "$OUT"
rm -f "$OUT"/ours.jsonl "$OUT"/sdk.jsonl "$OUT"/ours-dump.jsonl

# Value of "KEY":NUMBER in the JSON line of ROW (or in the header line when ROW is empty).
field() {
    local file=$1 row=$2 key=$3 line
    if [[ -n $row ]]; then
        line=$(grep -F "\"row\":\"$row\"" "$file" || true)
    else
        line=$(grep -v '"row":' "$file" | head -n 1 || true)
    fi
    sed -n "s/.*\"$key\":\([0-9][0-9]*\).*/\1/p" <<<"$line"
}

# a/b with one decimal, integer arithmetic.
ratio() {
    local a=$1 b=$2
    if [[ -z $a || -z $b || $b -eq 0 ]]; then
        printf 'n/a'
        return
    fi
    local tenths=$(((a * 10 + b / 2) / b))
    printf '%d.%dx' $((tenths / 10)) $((tenths % 10))
}

cpu_model() {
    local model
    model=$(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
    [[ -n $model ]] || model=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
    printf '%s' "${model:-unknown}"
}

SECONDS=0
say "==> cargo build --release --example khqr_bench -p bank-adapters"
cargo build --release --example khqr_bench -p bank-adapters
# Cargo builds into $CARGO_TARGET_DIR when it is set (e.g. a second target dir, to keep clear of
# another build's lock): run the binary it just built.
BIN=${CARGO_TARGET_DIR:-target}/release/examples/khqr_bench

say "==> ours: $((${#ROWS[@]} + 1)) rows × ${SECONDS_PER_ROW} s"
"$BIN" --vectors "$VECTORS" --seconds "$SECONDS_PER_ROW" --dump "$OUT/ours-dump.jsonl" >"$OUT/ours.jsonl"

sdk_status=""
if ! command -v node >/dev/null 2>&1; then
    sdk_status="node is not installed: SDK side skipped (install Node ≥ 18 and npm to compare)"
elif [[ ! -f $NODE_DIR/node_modules/$SDK_PACKAGE/package.json ]] ||
    ! grep -q "\"version\": *\"$SDK_VERSION\"" "$NODE_DIR/node_modules/$SDK_PACKAGE/package.json"; then
    if ! command -v npm >/dev/null 2>&1; then
        sdk_status="npm is not installed: cannot install $SDK_PACKAGE@$SDK_VERSION, SDK side skipped"
    else
        say "==> npm install --prefix $NODE_DIR $SDK_PACKAGE@$SDK_VERSION"
        if ! npm install --prefix "$NODE_DIR" "$SDK_PACKAGE@$SDK_VERSION" --no-audit --no-fund >&2; then
            sdk_status="npm install $SDK_PACKAGE@$SDK_VERSION failed (offline?): SDK side skipped"
        fi
    fi
fi
if [[ -z $sdk_status ]]; then
    say "==> SDK $SDK_PACKAGE@$SDK_VERSION on node $(node --version): ${#ROWS[@]} rows × ${SECONDS_PER_ROW} s"
    node bench/khqr/sdk-bench.mjs --sdk "$NODE_DIR" --vectors "$VECTORS" --seconds "$SECONDS_PER_ROW" \
        --ours "$OUT/ours-dump.jsonl" >"$OUT/sdk.jsonl"
fi

records=$(field "$OUT/ours.jsonl" "" records)
printf '\nKHQR codec throughput, single thread, %s generate records of %s, %s s per row\n' \
    "$records" "$VECTORS" "$SECONDS_PER_ROW"
printf 'machine: %s, nproc %s, %s; %s' "$(cpu_model)" "$(nproc)" "$(uname -sm)" "$(rustc --version)"
[[ -n $sdk_status ]] || printf '; node %s, %s@%s' "$(node --version)" "$SDK_PACKAGE" "$SDK_VERSION"
printf '\n\n'
printf '%-14s %11s %11s %9s   %-19s %-19s\n' "row (1 op)" "ours ops/s" "SDK ops/s" "ours/SDK" \
    "ours min-max" "SDK min-max"
for row in "${ROWS[@]}"; do
    ours=$(field "$OUT/ours.jsonl" "$row" ops_per_s)
    ours_range="$(field "$OUT/ours.jsonl" "$row" min_ops_per_s)-$(field "$OUT/ours.jsonl" "$row" max_ops_per_s)"
    sdk="" sdk_range=""
    if [[ -z $sdk_status ]]; then
        sdk=$(field "$OUT/sdk.jsonl" "$row" ops_per_s)
        sdk_range="$(field "$OUT/sdk.jsonl" "$row" min_ops_per_s)-$(field "$OUT/sdk.jsonl" "$row" max_ops_per_s)"
    fi
    printf '%-14s %11s %11s %9s   %-19s %-19s\n' "$row" "${ours:-?}" "${sdk:-n/a}" \
        "$(ratio "$ours" "$sdk")" "$ours_range" "${sdk_range:-n/a}"
done
typed=$(field "$OUT/ours.jsonl" "typed encode+decode" ops_per_s)
typed_range="$(field "$OUT/ours.jsonl" "typed encode+decode" min_ops_per_s)-$(field "$OUT/ours.jsonl" "typed encode+decode" max_ops_per_s)"
sdk=""
[[ -n $sdk_status ]] || sdk=$(field "$OUT/sdk.jsonl" "encode+decode" ops_per_s)
printf '%-14s %11s %11s %9s   %-19s\n' "typed enc+dec" "${typed:-?}" "(SDK e+d)" "$(ratio "$typed" "$sdk")" "$typed_range"
printf '(ops/s = median of 0.5 s samples; "typed enc+dec" = ours from a typed KhqrRequest, the\n'
printf ' payments path, against the SDK encode+decode; load average at the end: %s)\n\n' \
    "$(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo unknown)"
printf 'QR ≠ vector file: ours %s (typed path ≠ SDK-shaped path: %s)' \
    "$(field "$OUT/ours.jsonl" "" qr_mismatches_vs_vectors)" "$(field "$OUT/ours.jsonl" "" typed_qr_mismatches)"
if [[ -z $sdk_status ]]; then
    printf ', SDK %s\n' "$(field "$OUT/sdk.jsonl" "" qr_mismatches_vs_vectors)"
    printf 'ours vs SDK on identical inputs: QR mismatches %s, md5 mismatches %s, decode mismatches %s (of %s)\n' \
        "$(field "$OUT/sdk.jsonl" "" qr_mismatches_vs_ours)" \
        "$(field "$OUT/sdk.jsonl" "" md5_mismatches_vs_ours)" \
        "$(field "$OUT/sdk.jsonl" "" decode_mismatches_vs_ours)" \
        "$(field "$OUT/sdk.jsonl" "" records)"
else
    printf '\nSDK: %s\n' "$sdk_status"
fi
printf 'raw JSON lines: %s/ours.jsonl%s; wall time %dm%02ds\n' "$OUT" \
    "$([[ -n $sdk_status ]] || printf ', %s/sdk.jsonl' "$OUT")" $((SECONDS / 60)) $((SECONDS % 60))
