#!/usr/bin/env bash
# `make demo-data`: a database at and beyond the seed's scale for the books and the dashboard
# (issue 16, "Performance"): 204 offices, DEMO_YEARS years of payments, about DEMO_INTENTS
# intents, their ledger entries and postings, sealed into the hash chain and rolled up, then
# verified. See bench/books/README.md.
#
# Release build → database DEMO_DB dropped and created → payments migrate, payments seed --demo
# → bench/books/fill.sql (offices, people, quotes, intents, attempts, drawers, cash receipts,
# receipt numbers) → bench/books/ledger.sql (entries and postings, written with the ledger's
# triggers off: a generator of history, see that file) → payments ledger catch-up (the sealer's
# and the roll-up's own rounds until idle) → payments ledger verify. Prints what was made and
# the wall time of each step.
#
# Environment:
#   DATABASE_URL   server to use (default postgres://postgres@127.0.0.1:5432/postgres), as the
#                  database owner (a superuser or the owner: ledger.sql switches triggers off)
#   DEMO_DB        database to (re)create (default owso_demo_data); never the one DATABASE_URL
#                  names, nor postgres or template*
#   DEMO_INTENTS   intents over the period (default 4000000)
#   DEMO_YEARS     years of history (default 2)
#   DEMO_SEED      random seed, -1 to 1 (default 0.16): the same seed makes the same shape
# Output: target/demo-data/{summary.txt,verify.json,catch-up.json}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ADMIN_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB_NAME=${DEMO_DB:-owso_demo_data}
INTENTS=${DEMO_INTENTS:-4000000}
YEARS=${DEMO_YEARS:-2}
SEED=${DEMO_SEED:-0.16}
CHUNK=2000
OUT=target/demo-data

say() { printf '%s\n' "$*" >&2; }
die() {
    say "demo-data: $*"
    exit 1
}
[[ $INTENTS =~ ^[1-9][0-9]*$ ]] || die "DEMO_INTENTS must be a whole number ≥ 1"
[[ $YEARS =~ ^[0-9]+(\.[0-9]+)?$ ]] && [[ $YEARS != 0 ]] || die "DEMO_YEARS must be a positive number"
[[ $SEED =~ ^-?(0(\.[0-9]+)?|1(\.0+)?)$ ]] || die "DEMO_SEED must be a number from -1 to 1"
[[ $DB_NAME =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "DEMO_DB must be a plain lower-case name"
command -v psql >/dev/null 2>&1 || die "psql is needed to create and fill $DB_NAME"

# Never the database the caller works in (make run's, the tests' server database).
admin_db=$(sed -E 's#^[a-z]+://[^/]*/?##; s#\?.*$##' <<<"$ADMIN_URL")
case $DB_NAME in
postgres | template0 | template1 | "${admin_db:-postgres}") die "refusing to drop $DB_NAME: set DEMO_DB to a database of its own" ;;
esac
DEMO_URL=$(url_with_db "$ADMIN_URL" "$DB_NAME")
if [[ -z $admin_db || $admin_db == "$DB_NAME" ]]; then ADMIN_URL=$(url_with_db "$ADMIN_URL" postgres); fi

mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
note() { printf '%s\n' "$*" | tee -a "$SUMMARY" >&2; }
# step NAME COMMAND...: runs it, notes its wall time.
step() {
    local name=$1 start
    shift
    say "==> $name"
    start=$(date +%s.%N)
    "$@"
    note "$(printf '%-34s %8.1f s' "$name" "$(echo "$(date +%s.%N) - $start" | bc)")"
}
sql() { psql "$DEMO_URL" -X -qAt -v ON_ERROR_STOP=1 "$@"; }

start_all=$(date +%s)
step "cargo build --release -p payments" cargo build --release -p payments --bins
BIN=${CARGO_TARGET_DIR:-target}/release/payments

recreate() {
    psql "$ADMIN_URL" -X -q -v ON_ERROR_STOP=1 \
        -c "drop database if exists $DB_NAME with (force)" -c "create database $DB_NAME" >&2
}
step "database $DB_NAME (dropped, created)" recreate
# RUST_LOG: the verify's one long statement is expected here, not worth a warning.
export DATABASE_URL=$DEMO_URL OWSO_ENV=development RUST_LOG=${RUST_LOG:-error}
step "payments migrate" "$BIN" migrate
seed() { "$BIN" seed --demo >/dev/null; }
step "payments seed --demo" seed
fill() {
    sql -v intents="$INTENTS" -v years="$YEARS" -v seed="$SEED" -f bench/books/fill.sql >/dev/null
}
step "fill.sql ($INTENTS intents, $YEARS years)" fill
ledger() { sql -v chunk="$CHUNK" -f bench/books/ledger.sql >/dev/null; }
step "ledger.sql (entries, postings)" ledger

# What the triggers would have refused, checked once over everything written (ledger verify
# below recomputes the chain from the same rows, and the roll-ups from the postings).
check() {
    local bad
    bad=$(sql -c "
        select (select count(*) from (select 1 from ledger_postings group by entry_id, currency
                                      having sum(amount_minor) <> 0) u)
             + (select count(*) from ledger_entries e
                where (select count(*) from ledger_postings p where p.entry_id = e.id) < 2)
             + (select count(*) from ledger_postings p
                join ledger_entries e on e.id = p.entry_id
                join ledger_accounts a on a.id = p.account_id
                where p.created_at <> e.created_at or p.office_code <> e.office_code
                   or a.office_code <> e.office_code or a.currency <> p.currency)
             + (select count(*) from cash_receipts c
                where not exists (select 1 from ledger_entries e where e.id = c.ledger_entry_id)
                   or (c.reversal_entry_id is not null
                       and not exists (select 1 from ledger_entries e where e.id = c.reversal_entry_id)))")
    [[ $bad == 0 ]] || die "$bad ledger rows break a rule the triggers enforce"
}
step "check (balanced, consistent, linked)" check

catch_up() { "$BIN" ledger catch-up | tee "$OUT/catch-up.json" >&2; }
step "payments ledger catch-up" catch_up
verify() { "$BIN" ledger verify >"$OUT/verify.json" || die "ledger verify failed: $(cat "$OUT/verify.json")"; }
step "payments ledger verify" verify
say "    $(cat "$OUT/verify.json")"

note ""
note "database $DB_NAME: $(sql -c "select pg_size_pretty(pg_database_size(current_database()))")"
note "$(sql -F ' ' -c "
    select format('offices %s · intents %s (paid %s, awaiting %s) · attempts %s · cash receipts %s (voided %s) · drawers %s',
                  (select count(*) from offices where code <> '0000'),
                  (select count(*) from payment_intents),
                  (select count(*) from payment_intents where status = 'paid'),
                  (select count(*) from payment_intents where status = 'awaiting_payment'),
                  (select count(*) from payment_attempts),
                  (select count(*) from cash_receipts),
                  (select count(*) from cash_receipts where voided_at is not null),
                  (select count(*) from cashier_sessions))")"
note "$(sql -c "
    select format('ledger: entries %s · postings %s · accounts %s · seals %s · daily balance rows %s (days up to %s)',
                  (select count(*) from ledger_entries), (select count(*) from ledger_postings),
                  (select count(*) from ledger_accounts), (select count(*) from ledger_seals),
                  (select count(*) from ledger_daily_balances),
                  (select next_day from ledger_rollup_state))")"
note "catch-up: $(cat "$OUT/catch-up.json")"
note "total wall time: $(($(date +%s) - start_all)) s (load average: $(cut -d ' ' -f 1-3 /proc/loadavg); $(nproc) CPUs)"
say "summary in $SUMMARY"
