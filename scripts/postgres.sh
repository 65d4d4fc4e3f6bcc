#!/usr/bin/env bash
# A throwaway PostgreSQL for the scaled-out tests: install|start|stop. Debian's package.
#
# `start` makes a fresh cluster (trust auth, user `rag`, database `rag`) on 127.0.0.1 and prints
# its SQLAlchemy URL; `stop` stops it by the postmaster's pid. PostgreSQL refuses to run as root:
# as root the script runs it as Debian's `postgres` user.
#
# Environment:
#   RAG_PG_PORT   port on 127.0.0.1 (default 55432)
#   RAG_PG_HOME   this script's own dir (default /tmp/rag-postgres)
set -euo pipefail

PORT=${RAG_PG_PORT:-55432}
HOME_DIR=${RAG_PG_HOME:-/tmp/rag-postgres}
DATA=$HOME_DIR/data

die() { echo "postgres.sh: $*" >&2; exit 1; }

bin_dir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -n $dir ]] || die "PostgreSQL is not installed (run: bash scripts/postgres.sh install)"
    echo "$dir"
}

as_owner() {  # run a command as the cluster's owner
    if [[ $(id -u) -eq 0 ]]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

cmd_install() {
    ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 && return 0
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >/dev/null
}

cmd_start() {
    local bin
    bin=$(bin_dir)
    cmd_stop >/dev/null 2>&1 || true
    rm -rf "$HOME_DIR" && mkdir -p "$HOME_DIR"
    [[ $(id -u) -eq 0 ]] && chown postgres "$HOME_DIR"
    as_owner "'$bin/initdb' -D '$DATA' -A trust -U rag" >"$HOME_DIR/initdb.log" 2>&1 \
        || die "initdb failed: $(tail -5 "$HOME_DIR/initdb.log")"
    as_owner "'$bin/pg_ctl' -D '$DATA' -l '$HOME_DIR/server.log' -w -t 60 \
        -o \"-p $PORT -k '$HOME_DIR' -c listen_addresses=127.0.0.1\" start" >/dev/null \
        || die "PostgreSQL did not start: $(tail -5 "$HOME_DIR/server.log")"
    as_owner "'$bin/createdb' -h 127.0.0.1 -p $PORT -U rag rag"
    echo "postgresql+psycopg://rag@127.0.0.1:$PORT/rag"
}

cmd_stop() {
    [[ -f $DATA/postmaster.pid ]] || return 0
    local pid
    pid=$(head -1 "$DATA/postmaster.pid")
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
}

case ${1:-} in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    *) die "usage: $0 install|start|stop" ;;
esac
