#!/usr/bin/env bash
# `make run`: OWSO Pay on this machine in sandbox mode, with the simulated banks.
#
# PostgreSQL (scripts/pg-up.sh) → build → payments migrate → payments seed --demo → bank-sim and
# payments serve in the background → both answer /healthz → print URLs, demo keys and a curl
# walk-through → wait. Ctrl-C or SIGTERM stops both. Output of the two services goes to .run/*.log.
#
# Environment (a .env file in the repository root is read first; variables already set win):
#   LISTEN_ADDR      address of the service (default 127.0.0.1:8080)
#   BANK_SIM_ADDR    address of bank-sim (default 127.0.0.1:8081)
#   PUBLIC_BASE_URL  the service's public URL (default http://LISTEN_ADDR)
#   METRICS_LISTEN_ADDR  where /metrics is served (default 127.0.0.1:9090, or a free port if taken)
#   DATABASE_URL     used as is when it answers (see scripts/pg-up.sh for the rest)
#   DEMO_SERVICE_CODE, DEMO_SERVICE_PARAMS  the service (and its params JSON) the walk-through quotes
#   OWSO_BIN_DIR     run prebuilt binaries from this directory instead of building
#   plus everything `payments serve` reads (.env.example), e.g. SANDBOX_CALLBACK_SECRET, RUST_LOG.
#   OWSO_ENV is always development here.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

say() { printf '%s\n' "$*" >&2; }
die() {
    say "make run: $*"
    exit 1
}

# Reads KEY=VALUE lines (optionally `export KEY=VALUE`, optionally quoted); never executes them.
load_dotenv() {
    local line key value
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line%$'\r'}
        [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
        key=${BASH_REMATCH[2]}
        value=${BASH_REMATCH[3]}
        if [[ $value =~ ^\"(.*)\"[[:space:]]*$ || $value =~ ^\'(.*)\'[[:space:]]*$ ]]; then
            value=${BASH_REMATCH[1]}
        else
            value=${value%%[[:space:]]#*} # an unquoted value ends at " #comment"
            value=${value%"${value##*[![:space:]]}"}
        fi
        [[ -n ${!key+set} ]] || export "$key=$value"
    done <"$1"
}
if [[ -f .env ]]; then load_dotenv .env; fi
# A development stack: the sandbox, development secrets and demo keys, which the default
# production profile refuses (docs/RUNNING.md, "Profiles"). Set here, whatever .env says.
export OWSO_ENV=development

PAYMENTS_ADDR=${LISTEN_ADDR:-127.0.0.1:8080}
BANK_ADDR=${BANK_SIM_ADDR:-127.0.0.1:8081}

# The address to connect to for a listen address (0.0.0.0 means "all", connect via loopback).
connect_addr() {
    case $1 in
    0.0.0.0:*) echo "127.0.0.1:${1##*:}" ;;
    *) echo "$1" ;;
    esac
}
PAYMENTS_LOCAL=$(connect_addr "$PAYMENTS_ADDR")
BANK_LOCAL=$(connect_addr "$BANK_ADDR")
SERVICE_URL=${PUBLIC_BASE_URL:-http://$PAYMENTS_LOCAL}
BANK_URL=http://$BANK_LOCAL

healthy() { answers_2xx "$1" /healthz; }

# Tiny JSON readers for flat objects (no jq on a fresh machine).
json_objects() { tr -d '\n' <<<"$1" | grep -o '{[^{}]*}' || true; }
json_string() {
    local re="\"$1\"[[:space:]]*:[[:space:]]*\"([^\"]*)\""
    if [[ $2 =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi
}
json_list() {
    local re="\"$1\"[[:space:]]*:[[:space:]]*\[([^]]*)\]"
    if [[ $2 =~ $re ]]; then tr -d '" ' <<<"${BASH_REMATCH[1]}"; fi
}

for addr in "$PAYMENTS_LOCAL" "$BANK_LOCAL"; do
    if port_taken "$addr"; then
        die "$addr is already in use (another make run?); stop it or set LISTEN_ADDR / BANK_SIM_ADDR"
    fi
done
# /metrics has its own listener; when 9090 is taken (another make run, a Prometheus) and no
# address was asked for, the service picks a free port and prints it in its log.
METRICS_ADDR=${METRICS_LISTEN_ADDR:-127.0.0.1:9090}
if [[ -z ${METRICS_LISTEN_ADDR:-} ]] && port_taken "$(connect_addr "$METRICS_ADDR")"; then
    METRICS_ADDR=127.0.0.1:0
fi

DATABASE_URL=$(scripts/pg-up.sh)
export DATABASE_URL

if [[ -n ${OWSO_BIN_DIR:-} ]]; then
    BIN=$OWSO_BIN_DIR # prebuilt binaries: no build
else
    cargo build --workspace --bins
    BIN=${CARGO_TARGET_DIR:-target}/debug
fi

"$BIN/payments" migrate
seed_json=$("$BIN/payments" seed --demo)

# role -> key (the key without offices wins), and a printable list of all keys.
declare -A KEY=()
declare -A KEY_UNSCOPED=()
key_lines=()
people_lines=()
office=""
while IFS= read -r object; do
    username=$(json_string username "$object")
    if [[ -n $username ]]; then
        people_offices=$(json_list office_codes "$object")
        people_lines+=("$(printf '  %-16s %-11s %-14s password: %s' "$username" "$(json_string role "$object")" "offices: ${people_offices:-all}" "$(json_string password "$object")")")
        continue
    fi
    role=$(json_string role "$object")
    key=$(json_string key "$object")
    if [[ -z $role || -z $key ]]; then
        [[ -n $office ]] || office=$(json_string code "$object")
        continue
    fi
    offices=$(json_list office_codes "$object")
    key_lines+=("$(printf '  %-10s %-14s %s' "$role" "offices: ${offices:-all}" "$key")")
    if [[ -z ${KEY[$role]:-} || (-z $offices && -z ${KEY_UNSCOPED[$role]:-}) ]]; then
        KEY[$role]=$key
        [[ -n $offices ]] || KEY_UNSCOPED[$role]=yes
    fi
done < <(json_objects "$seed_json")
office=${office:-0320}

mkdir -p .run
printf '%s\n' "$seed_json" >.run/demo-keys.json

trap stop_children EXIT
trap 'say "stopping..."; exit 130' INT
trap 'exit 143' TERM

LISTEN_ADDR=$BANK_ADDR CALLBACK_BASE_URL=http://$PAYMENTS_LOCAL PUBLIC_BASE_URL=$BANK_URL \
    "$BIN/bank-sim" >.run/bank-sim.log 2>&1 &
bank_pid=$!
pids+=("$bank_pid")
SANDBOX_ENABLED=true BANK_SIM_URL=$BANK_URL LISTEN_ADDR=$PAYMENTS_ADDR PUBLIC_BASE_URL=$SERVICE_URL \
    METRICS_LISTEN_ADDR=$METRICS_ADDR "$BIN/payments" serve >.run/payments.log 2>&1 &
payments_pid=$!
pids+=("$payments_pid")

both_healthy() { healthy "$PAYMENTS_LOCAL" && healthy "$BANK_LOCAL"; }
wait_up .run both_healthy "payments:$payments_pid" "bank-sim:$bank_pid" ||
    die "the service and bank-sim did not both answer /healthz (logs: .run/payments.log, .run/bank-sim.log)"

# The service the walk-through quotes: configured, else the first published one the catalog lists.
service=${DEMO_SERVICE_CODE:-}
if [[ -z $service ]]; then
    # The first code followed by "fee_published":true (a service whose fee can be quoted).
    service=$(http_get "$PAYMENTS_LOCAL" "/v1/services?limit=500" 2>/dev/null |
        grep -o '"code"[[:space:]]*:[[:space:]]*"[^"]*"\|"fee_published"[[:space:]]*:[[:space:]]*true' |
        grep -B 1 fee_published | head -n 1 | cut -d'"' -f4 || true)
fi
service=${service:-SERVICE_CODE}
params=${DEMO_SERVICE_PARAMS:-"{}"}
workflow_key=${KEY[workflow]:-<workflow key>}

redacted_db=$(sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#' <<<"$DATABASE_URL")
cat <<EOF

OWSO Pay is running (sandbox mode)
  service   $SERVICE_URL   (health /healthz · API description /openapi.json)
  bank-sim  $BANK_URL
  database  $redacted_db
  metrics   $(grep -o 'http://[^ ]*/metrics' .run/payments.log | head -n 1 || echo "(off)")
  logs      .run/payments.log  .run/bank-sim.log

Demo keys from \`payments seed --demo\` (its whole JSON is in .run/demo-keys.json):
EOF
if ((${#key_lines[@]})); then
    printf '%s\n' "${key_lines[@]}"
else
    echo "  (the seed printed no keys; create one: $BIN/payments keys create --role workflow)"
fi
cat <<EOF

Demo people for the staff console, $SERVICE_URL/console/login (development only):
EOF
if ((${#people_lines[@]})); then
    printf '%s\n' "${people_lines[@]}"
else
    echo "  (none; create one: $BIN/payments users create --role cashier --office 0320 --name NAME --username USER)"
fi
cat <<EOF

A payment, end to end (paste into another terminal; needs curl):
  OWSO=$SERVICE_URL BANK=$BANK_URL KEY=$workflow_key
  j() { grep -o "\"\$1\" *: *\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }   # pick a JSON field (or: jq -r .\$1)
  # 1. quote the fee (422 names a missing parameter: set DEMO_SERVICE_PARAMS / edit "params")
  QUOTE=\$(curl -s -X POST \$OWSO/v1/quotes -H "Authorization: Bearer \$KEY" -H 'Content-Type: application/json' \\
    -d '{"office_code":"$office","items":[{"service_code":"$service","quantity":1,"params":$params}]}' | tee /dev/stderr | j id); echo
  # 2. a payment intent for the case (a case takes one open intent: a new case number each time)
  INTENT=\$(curl -s -X POST \$OWSO/v1/payment-intents -H "Authorization: Bearer \$KEY" -H 'Content-Type: application/json' \\
    -H "Idempotency-Key: demo-\$QUOTE" -d '{"quote_id":"'\$QUOTE'","case_reference":"${office}-'\$(date +%s)'","payer":{"name":"Sok Dara","phone":"012345678"}}' \\
    | tee /dev/stderr | j id); echo
  # 3. a sandbox attempt
  REF=\$(curl -s -X POST \$OWSO/v1/payment-intents/\$INTENT/attempts -H "Authorization: Bearer \$KEY" -H 'Content-Type: application/json' \\
    -H "Idempotency-Key: demo-\$INTENT" -d '{"channel":"sandbox"}' | tee /dev/stderr | j provider_reference); echo
  # 4. the payer pays at the bank; bank-sim calls the service back
  curl -s -X POST \$BANK/sandbox/payments/\$REF/pay; echo
  # 5. the intent is paid
  sleep 1; curl -s \$OWSO/v1/payment-intents/\$INTENT -H "Authorization: Bearer \$KEY" | j status   # -> paid

Ctrl-C stops both.
EOF

# Wait in the foreground; if either service dies, stop the other and fail.
set +e
wait -n "${pids[@]}"
status=$?
set -e
for pair in "payments:$payments_pid" "bank-sim:$bank_pid"; do
    if ! kill -0 "${pair#*:}" 2>/dev/null; then
        tail -n 20 ".run/${pair%%:*}.log" >&2 || true
        die "${pair%%:*} stopped (exit $status; log: .run/${pair%%:*}.log)"
    fi
done
exit "$status"
