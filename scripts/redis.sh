#!/usr/bin/env bash
# A throwaway Redis for the scaled-out tests: install|start|stop. Debian's redis-server.
#
# `start` runs one in memory only (no snapshots) on 127.0.0.1 and prints its URL; `stop` stops it
# by its pid file.
#
# Environment:
#   RAG_REDIS_PORT   port on 127.0.0.1 (default 56379)
#   RAG_REDIS_HOME   this script's own dir (default /tmp/rag-redis)
set -euo pipefail

PORT=${RAG_REDIS_PORT:-56379}
HOME_DIR=${RAG_REDIS_HOME:-/tmp/rag-redis}
PID_FILE=$HOME_DIR/redis.pid

die() { echo "redis.sh: $*" >&2; exit 1; }

cmd_install() {
    command -v redis-server >/dev/null && return 0
    DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server >/dev/null
}

cmd_start() {
    command -v redis-server >/dev/null || die "redis-server is not installed (run: $0 install)"
    cmd_stop
    mkdir -p "$HOME_DIR"
    redis-server --port "$PORT" --bind 127.0.0.1 --daemonize yes --pidfile "$PID_FILE" \
        --save '' --appendonly no --dir "$HOME_DIR" --logfile "$HOME_DIR/redis.log"
    for _ in $(seq 1 60); do
        if redis-cli -p "$PORT" ping >/dev/null 2>&1; then
            echo "redis://127.0.0.1:$PORT/0"
            return 0
        fi
        sleep 0.5
    done
    die "Redis did not answer on port $PORT: $(tail -5 "$HOME_DIR/redis.log")"
}

cmd_stop() {
    [[ -f $PID_FILE ]] || return 0
    local pid
    pid=$(cat "$PID_FILE")
    kill -TERM "$pid" 2>/dev/null || { rm -f "$PID_FILE"; return 0; }
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; return 0; }; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
}

case ${1:-} in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    *) die "usage: $0 install|start|stop" ;;
esac
