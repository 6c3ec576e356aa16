#!/usr/bin/env bash
# Functions to start and stop the project's moto server (with its Lambda Web layer); sourced by test.sh, demo.sh and the benchmarks.
# moto_start sets MOTO_ENDPOINT and MOTO_PID. Never set MOTO_ACCOUNT_ID: it would override per-request accounts.

moto_start() {
  local root venv port log
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  venv="$root/.venv"
  port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  log="${MOTO_LOG:-$root/target/moto-$port.log}"
  mkdir -p "$(dirname "$log")"
  # moto_server with the loopback layer that answers the Lambda Web API, which moto does not serve
  # (scripts/moto_lambda_web.py, docs/emulator.md); same process, same arguments.
  env -u MOTO_ACCOUNT_ID "$venv/bin/python" "$root/scripts/moto_lambda_web.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  MOTO_ENDPOINT="http://127.0.0.1:$port"
  export MOTO_PID MOTO_ENDPOINT
  # Poll readiness (GET /moto-api/ answers once the server is up); give up after 30 s.
  local deadline=$((SECONDS + 30))
  until "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$MOTO_ENDPOINT/moto-api/', timeout=1)" 2>/dev/null; do
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
      echo "moto_server exited; its log ($log):" >&2
      cat "$log" >&2
      return 1
    fi
    if ((SECONDS > deadline)); then
      echo "moto_server did not answer within 30 s; log: $log" >&2
      return 1
    fi
    "$venv/bin/python" -c 'import time; time.sleep(0.1)'
  done
  echo "moto $MOTO_ENDPOINT (pid $MOTO_PID)" >&2
}

moto_stop() {
  if [[ -n "${MOTO_PID:-}" ]] && kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
}
