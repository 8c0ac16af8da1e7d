#!/usr/bin/env bash
# Finds or bootstraps a PostgreSQL for OWSO Pay and prints its DATABASE_URL on stdout (nothing
# else goes to stdout), so that callers can write `DATABASE_URL=$(scripts/pg-up.sh)`.
#
# Order (the first that works wins):
#   a. $DATABASE_URL, if it is set and a connection to it works;
#   b. a server answering on 127.0.0.1:$PG_PORT where the role `postgres` logs in without a
#      password (trust) -> ensures database owso_pay -> postgres://postgres@127.0.0.1:PORT/owso_pay;
#   c. a local Debian cluster (pg_lsclusters), started if it is down;
#   d. PostgreSQL installed from Debian packages (root or passwordless sudo), cluster created;
#   e. after c/d: role owso (password owso, CREATEDB) and database owso_pay are ensured through
#      the cluster owner's Unix socket -> postgres://owso:owso@127.0.0.1:PORT/owso_pay.
# It never stops, restarts or reconfigures a running server. Idempotent; safe to run repeatedly.
#
# Environment:
#   DATABASE_URL     used as is when it answers (a)
#   PG_PORT          port to probe and to pick/create the cluster on (default 5432; when set
#                    explicitly, only a cluster on exactly this port is used or created)
#   PG_CLUSTER_NAME  only use/create the Debian cluster with this name (default: any; created as main)
#   PG_UP_LOG        where installer and server start-up output goes (default /tmp/owso-pg-up.log)
#   PGCONNECT_TIMEOUT seconds per connection attempt (default 5)
set -euo pipefail

# fd 3 is the real stdout and carries only the URL; fd 4 is the real stderr (our messages reach it
# even from inside commands whose output goes to the log); everything else goes to stderr.
exec 3>&1 4>&2 1>&2

readonly HOST=127.0.0.1
readonly DB=owso_pay
readonly ROLE=owso ROLE_PASSWORD=owso
PORT_EXPLICIT=${PG_PORT:+yes}
readonly PORT_EXPLICIT
PORT=${PG_PORT:-5432}
LOG=${PG_UP_LOG:-${TMPDIR:-/tmp}/owso-pg-up.log}
export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-5}
unset PGPASSWORD PGHOST PGPORT PGUSER PGDATABASE PGSERVICE # only our explicit choices count

say() { printf 'pg-up: %s\n' "$*" >&4; }
die() {
    say "error: $*"
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
emit() {
    say "$1"
    printf '%s\n' "$2" >&3
    exit 0
}
is_root() { [[ $(id -u) == 0 ]]; }
can_sudo() { have sudo && sudo -n true 2>/dev/null; }

# Runs a command as root: directly, or through passwordless sudo.
as_root() {
    if is_root; then
        "$@"
    elif can_sudo; then
        sudo -n "$@"
    else
        die "'$*' needs root and passwordless sudo is not available; run as root, or start PostgreSQL yourself and set DATABASE_URL"
    fi
}

# Runs a command as OS user $1 (the cluster owner, normally postgres), from / so that it never
# complains about an unreadable working directory.
as_user() {
    local user=$1
    shift
    if [[ $(id -un) == "$user" ]]; then
        (cd / && "$@")
    elif is_root && have runuser; then
        (cd / && runuser -u "$user" -- "$@")
    elif is_root; then
        (cd / && su "$user" -s /bin/sh -c "$(printf '%q ' "$@")")
    elif can_sudo; then
        (cd / && sudo -n -u "$user" -- "$@")
    else
        die "acting as the '$user' OS user needs root or passwordless sudo; set DATABASE_URL instead"
    fi
}

# shellcheck disable=SC2016 # $1/$2 expand in the inner bash
tcp_open() { timeout 3 bash -c 'exec 9<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

# True when something accepts PostgreSQL connections on $HOST:$1.
server_answers() {
    if have pg_isready; then
        pg_isready -q -h "$HOST" -p "$1" -t 3
    else
        tcp_open "$HOST" "$1"
    fi
}

# True when a connection to the URL $1 works (a query if psql exists, else a weaker probe).
url_works() {
    local url=$1 rest hostport host port
    if have psql; then
        psql -w -X -A -t -q -d "$url" -c 'select 1' >/dev/null 2>&1
        return
    fi
    if have pg_isready; then
        pg_isready -q -d "$url" -t 3
        return
    fi
    rest=${url#*://}
    rest=${rest%%[/?]*}
    hostport=${rest##*@}
    host=${hostport%:*}
    port=5432
    [[ $hostport == *:* ]] && port=${hostport##*:}
    [[ -n $host ]] || host=localhost
    tcp_open "$host" "$port"
}

# The psql client is needed from (b) on; install it when missing and we may.
ensure_psql() {
    have psql && return 0
    if is_root || can_sudo; then
        say "installing the PostgreSQL client from Debian packages (log: $LOG)"
        as_root bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client' >>"$LOG" 2>&1 ||
            { tail -n 20 "$LOG" >&4; die "installing postgresql-client failed (log: $LOG)"; }
        return 0
    fi
    return 1
}

# SQL as the role postgres over TCP without a password (path b).
trusted_sql() { psql -w -X -A -t -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PORT" -U postgres -d postgres -c "$1"; }
trusted_db_exists() { [[ $(trusted_sql "select 1 from pg_database where datname = '$DB'") == 1 ]]; }

# --- a. an explicit DATABASE_URL ---------------------------------------------------------------
if [[ -n ${DATABASE_URL:-} ]]; then
    if url_works "$DATABASE_URL"; then
        emit "using DATABASE_URL from the environment" "$DATABASE_URL"
    fi
    say "DATABASE_URL is set but no connection to it works; looking for a local PostgreSQL instead"
fi

# --- b. a server on 127.0.0.1:PORT that trusts the postgres role ---------------------------------
answering=""
if server_answers "$PORT"; then
    answering=yes
    if ensure_psql && trusted_sql 'select 1' >/dev/null 2>&1; then
        trusted_db_exists || trusted_sql "create database $DB" >/dev/null 2>&1 || trusted_db_exists ||
            die "could not create database $DB on $HOST:$PORT"
        emit "using PostgreSQL on $HOST:$PORT (role postgres, database $DB)" \
            "postgres://postgres@$HOST:$PORT/$DB"
    fi
fi

# --- c/d. a local Debian cluster: find it, or install PostgreSQL and create it --------------------
# Prints "VERSION NAME PORT STATUS OWNER" of the cluster to use, or nothing.
pick_cluster() {
    have pg_lsclusters || return 0
    local ver name port status owner rest fallback=""
    while read -r ver name port status owner rest; do
        [[ -n $ver ]] || continue
        if [[ -n ${PG_CLUSTER_NAME:-} && $name != "$PG_CLUSTER_NAME" ]]; then continue; fi
        if [[ $port == "$PORT" ]]; then
            echo "$ver $name $port $status $owner"
            return 0
        fi
        if [[ -z $PORT_EXPLICIT && -z $fallback ]]; then fallback="$ver $name $port $status $owner"; fi
    done < <(pg_lsclusters -h 2>/dev/null || true)
    if [[ -n $fallback ]]; then echo "$fallback"; fi
}

server_installed() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }

cluster=$(pick_cluster)
if [[ -z $cluster ]]; then
    if [[ -n $answering ]] && server_installed; then
        : # a server answers but is not a Debian cluster we may use; try creating ours below
    elif [[ -n $answering ]]; then
        die "a server answers on $HOST:$PORT but the role postgres cannot log in without a password and there is no local cluster to manage; set DATABASE_URL"
    fi
    if ! server_installed; then
        is_root || can_sudo || die "PostgreSQL is not installed and installing it needs root; install postgresql or set DATABASE_URL"
        say "installing PostgreSQL from Debian packages (log: $LOG)"
        # C.UTF-8 so that the cluster the package creates is UTF8 even where no locale is set.
        as_root env LANG=C.UTF-8 LC_ALL=C.UTF-8 bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib' >>"$LOG" 2>&1 ||
            { tail -n 20 "$LOG" >&4; die "installing PostgreSQL failed (log: $LOG)"; }
        cluster=$(pick_cluster)
    fi
    if [[ -z $cluster ]]; then
        version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
        name=${PG_CLUSTER_NAME:-main}
        create_args=("$version" "$name" --locale=C.UTF-8)
        if [[ -n $PORT_EXPLICIT ]]; then create_args+=(-p "$PORT"); fi
        as_root pg_createcluster "${create_args[@]}" >>"$LOG" 2>&1 ||
            { tail -n 20 "$LOG" >&4; die "pg_createcluster ${create_args[*]} failed (log: $LOG)"; }
        cluster=$(pick_cluster)
        [[ -n $cluster ]] || die "pg_createcluster ${create_args[*]} succeeded but pg_lsclusters does not list the cluster"
    fi
fi
read -r ver name port status owner <<<"$cluster"

if [[ $status == *binaries_missing* ]]; then
    die "cluster $ver/$name has no server binaries (pg_lsclusters: $status); install postgresql-$ver"
fi
if [[ $status != online* ]]; then
    # pg_ctlcluster switches to the cluster owner itself (PostgreSQL refuses to run as root).
    if [[ $(id -un) == "$owner" ]]; then
        pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >>"$LOG" 2>&1 || start_failed=yes
    else
        as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >>"$LOG" 2>&1 || start_failed=yes
    fi
    if [[ -n ${start_failed:-} ]]; then
        tail -n 20 "$LOG" >&4
        die "pg_ctlcluster $ver $name start failed (log: $LOG)"
    fi
fi

# Wait until it accepts TCP connections: at most 30 s, polling every 0.2 s.
deadline=$((SECONDS + 30))
until pg_isready -q -h "$HOST" -p "$port" -t 1; do
    ((SECONDS < deadline)) || die "cluster $ver/$name did not accept connections on $HOST:$port within 30 s (see pg_lsclusters and its log file)"
    sleep 0.2
done

# --- e. role and database for a cluster we manage ------------------------------------------------
url="postgres://$ROLE:$ROLE_PASSWORD@$HOST:$port/$DB"
if have psql && url_works "$url"; then
    emit "using cluster $ver/$name on $HOST:$port (role $ROLE, database $DB)" "$url"
fi
ensure_psql || die "psql is missing and cannot be installed without root"
local_sql() { as_user "$owner" psql -X -A -t -q -v ON_ERROR_STOP=1 -p "$port" -d postgres -c "$1"; }
role_exists() { [[ $(local_sql "select 1 from pg_roles where rolname = '$ROLE'") == 1 ]]; }
db_exists() { [[ $(local_sql "select 1 from pg_database where datname = '$DB'") == 1 ]]; }
role_exists || local_sql "create role $ROLE login createdb password '$ROLE_PASSWORD'" >/dev/null 2>&1 || role_exists ||
    die "could not create role $ROLE in cluster $ver/$name"
db_exists || local_sql "create database $DB owner $ROLE" >/dev/null 2>&1 || db_exists ||
    die "could not create database $DB in cluster $ver/$name"

url_works "$url" ||
    die "role $ROLE cannot log in over TCP at $HOST:$port; check /etc/postgresql/$ver/$name/pg_hba.conf (the Debian default 'host all all 127.0.0.1/32 scram-sha-256' works) or set DATABASE_URL"
emit "using cluster $ver/$name on $HOST:$port (role $ROLE, database $DB)" "$url"
