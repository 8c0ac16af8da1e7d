# Shell helpers shared by scripts/run.sh and the bench scripts; sourced, not run.
# shellcheck shell=bash

# GET http://$1$2 ($1 = host:port) with HTTP/1.0 over bash's /dev/tcp (no curl needed); prints
# the raw response.
http_get() {
    local addr=$1 path=$2 fd
    exec {fd}<>"/dev/tcp/${addr%:*}/${addr##*:}" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$addr" >&"$fd"
    timeout 5 cat <&"$fd" || true
    exec {fd}>&-
}

# True when GET http://$1$2 answers a 2xx status.
answers_2xx() { [[ $(http_get "$1" "$2" 2>/dev/null | head -n 1) == HTTP/1.?" 2"* ]]; }

# True when something listens on host:port $1.
port_taken() { (exec 9<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

# The PostgreSQL URL $1 with its database replaced by $2 (query string kept; a URL without a
# database gets one).
url_with_db() {
    local url=$1 db=$2 query=""
    if [[ $url == *\?* ]]; then
        query="?${url#*\?}"
        url=${url%%\?*}
    fi
    local rest=${url#*://}
    if [[ $rest == */* ]]; then
        url="${url%%://*}://${rest%%/*}"
    fi
    printf '%s/%s%s' "$url" "$db" "$query"
}

# Children started in the background: `pids+=("$!")`; `trap stop_children EXIT` stops them
# (TERM, up to 5 s, then KILL).
pids=()
# shellcheck disable=SC2317 # called from the EXIT trap
stop_children() {
    trap - EXIT INT TERM
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 50); do
        local alive=""
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=yes; done
        [[ -n $alive ]] || return 0
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}

# wait_up LOG_DIR CHECK NAME:PID...: runs the command CHECK every 0.1 s until it succeeds (status
# 0). Fails (status 1, reason on stderr) when a child NAME:PID has exited, with the end of its
# log LOG_DIR/NAME.log, or when 60 s pass.
wait_up() {
    local log_dir=$1 check=$2 pair deadline=$((SECONDS + 60))
    shift 2
    until "$check"; do
        for pair in "$@"; do
            if ! kill -0 "${pair#*:}" 2>/dev/null; then
                tail -n 30 "$log_dir/${pair%%:*}.log" >&2 || true
                printf '%s exited during start-up (log: %s)\n' "${pair%%:*}" "$log_dir/${pair%%:*}.log" >&2
                return 1
            fi
        done
        if ((SECONDS >= deadline)); then
            printf 'no answer within 60 s (logs in %s)\n' "$log_dir" >&2
            return 1
        fi
        sleep 0.1
    done
}
