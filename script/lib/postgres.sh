# shellcheck shell=bash
# Start a throwaway PostgreSQL 15 cluster on loopback for the tests; stopped by stop_postgres.
# Exports CORRAL_TEST_POSTGRES_URL. Runs the server as the `postgres` user when we are root
# (initdb refuses root), as ourselves otherwise.

start_postgres() {
  local pgbin port
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$pgbin" ]; then echo "postgres: no server binaries found" >&2; return 1; fi
  # below the ephemeral range (32768+), where outgoing connections can hold a port a moment ago free
  port=${CORRAL_TEST_PG_PORT:-$((20000 + RANDOM % 10000))}
  PGROOT=$(mktemp -d /tmp/corral-pg.XXXXXX)
  local run=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PGROOT"
    run=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  fi
  "${run[@]}" "$pgbin/initdb" -D "$PGROOT/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >"$PGROOT/initdb.log" 2>&1 \
    || { cat "$PGROOT/initdb.log" >&2; return 1; }
  "${run[@]}" "$pgbin/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/pg.log" -w -t 60 \
    -o "-k $PGROOT -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=300" \
    start >/dev/null || { cat "$PGROOT/pg.log" >&2; return 1; }
  PG_CTL_STOP=("${run[@]}" "$pgbin/pg_ctl" -D "$PGROOT/data" -m immediate -w stop)
  export CORRAL_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  export CORRAL_TEST_POSTGRES_ADMIN_URL="$CORRAL_TEST_POSTGRES_URL"
}

stop_postgres() {
  if [ -n "${PGROOT:-}" ]; then
    "${PG_CTL_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PGROOT"
  fi
}
