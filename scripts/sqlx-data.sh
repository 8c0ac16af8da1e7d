#!/usr/bin/env bash
# The query cache `.sqlx/` (checked SQL without a database at build time):
#
#   scripts/sqlx-data.sh prepare   rewrite .sqlx/ from the migrations (after changing a query)
#   scripts/sqlx-data.sh check     fail, naming the queries, when .sqlx/ is stale (make test)
#
# Builds normally run with SQLX_OFFLINE=true (.cargo/config.toml): `query!` reads .sqlx/, so a
# query whose text changed without a new cache entry fails to compile. What offline builds
# cannot see is a schema change under an unchanged query; this script re-expands every query
# against a database migrated from migrations/ (sqlx's macros write what they learn to
# SQLX_OFFLINE_DIR, the mechanism `cargo sqlx prepare` uses, so no sqlx-cli is installed) and
# compares the result with .sqlx/.
#
# Environment: DATABASE_URL (default: scripts/pg-up.sh finds or starts a server); the role must
# be allowed to create databases. Only the database owso_sqlx_cache is dropped and re-created.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

mode=${1:-}
[[ $mode == prepare || $mode == check ]] || {
    echo "usage: scripts/sqlx-data.sh prepare|check" >&2
    exit 2
}
if [[ -z ${DATABASE_URL:-} ]]; then
    DATABASE_URL=$(scripts/pg-up.sh)
fi
ADMIN_URL=$DATABASE_URL
# SQLX_CACHE_DB lets two worktrees prepare at once without dropping each other's database.
CACHE_DB=${SQLX_CACHE_DB:-owso_sqlx_cache}
CACHE_URL=$(url_with_db "$DATABASE_URL" "$CACHE_DB")

psql "$ADMIN_URL" -X -q -v ON_ERROR_STOP=1 \
    -c "drop database if exists $CACHE_DB with (force)" \
    -c "create database $CACHE_DB" >&2
# Only the schema matters to the macros, so psql applies the migrations (each in one
# transaction, as sqlx does); the service's own migrate would need a build that needs the cache.
for migration in migrations/*.sql; do
    psql "$CACHE_URL" -X -q -1 -v ON_ERROR_STOP=1 -f "$migration" >/dev/null
done
# sqlx's own bookkeeping table (as sqlx-postgres creates it): readiness checks query it.
psql "$CACHE_URL" -X -q -v ON_ERROR_STOP=1 -c "create table _sqlx_migrations (
    version bigint primary key, description text not null,
    installed_on timestamptz not null default now(), success boolean not null,
    checksum bytea not null, execution_time bigint not null)" >/dev/null

fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
# Touching the crates that hold queries makes cargo expand their macros again (proc macros
# run only when their crate is rebuilt); the same build as `make build`, so nothing else moves.
touch payments/src/lib.rs
SQLX_OFFLINE=false SQLX_OFFLINE_DIR=$fresh DATABASE_URL=$CACHE_URL \
    cargo build -q --workspace --bins
count=$(find "$fresh" -name 'query-*.json' | wc -l)
((count > 0)) || {
    echo "sqlx-data: no query was expanded (is payments using query! at all?)" >&2
    exit 1
}

if [[ $mode == prepare ]]; then
    rm -rf .sqlx
    mkdir -p .sqlx
    cp "$fresh"/query-*.json .sqlx/
    echo "sqlx-data: .sqlx/ holds $count queries" >&2
    exit 0
fi
if diff -r -q .sqlx "$fresh" >/dev/null 2>&1; then
    echo "sqlx-data: .sqlx/ is current ($count queries)" >&2
    exit 0
fi
echo "sqlx-data: .sqlx/ is stale; run scripts/sqlx-data.sh prepare and commit .sqlx/" >&2
diff -r -q .sqlx "$fresh" | sed "s|$fresh|<fresh>|" >&2 || true
exit 1
