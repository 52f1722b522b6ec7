# shellcheck shell=bash
# Start a throwaway S3-protocol server (moto, from the dev dependencies) on loopback for the blob store's tests;
# stopped by stop_moto. Exports CORRAL_TEST_S3_URL. It holds everything in memory and reaches nothing outside.

start_moto() {
  MOTO_LOG=$(mktemp /tmp/corral-moto.XXXXXX)
  # port 0: the kernel picks a free port, and the server says which in its first lines
  .venv/bin/python -m moto.server -H 127.0.0.1 -p 0 >"$MOTO_LOG" 2>&1 &
  MOTO_PID=$!
  local url=""
  for _ in $(seq 1 600); do
    url=$(grep -o -m 1 'Running on http://[0-9.:]*' "$MOTO_LOG" | cut -d' ' -f3 || true)
    [ -n "$url" ] && break
    kill -0 "$MOTO_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$url" ]; then echo "moto: the server did not start" >&2; cat "$MOTO_LOG" >&2; return 1; fi
  export CORRAL_TEST_S3_URL="$url"
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
    rm -f "$MOTO_LOG"
  fi
}
