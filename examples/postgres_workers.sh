#!/usr/bin/env bash
# PostgreSQL with separate workers: one API process (`corral serve`, CORRAL_WORKERS=0) and two `corral worker`
# processes on one database. The API only writes to the session's log; whichever worker claims the session drives
# it, and if that worker dies another finishes its turn. Then examples/coding_agent.py runs against it.
#
#   CORRAL_DATABASE_URL=postgresql://corral:secret@127.0.0.1/corral CORRAL_API_KEY=sk-… \
#     ANTHROPIC_API_KEY=sk-ant-… examples/postgres_workers.sh
#
# (CORRAL_PORT picks the API's port, 8080 by default; the README's "Running on several machines" spreads the
# same processes over machines.)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CORRAL_DATABASE_URL:?a PostgreSQL URL}" "${CORRAL_API_KEY:?an admin key of your choosing}"
export CORRAL_URL="http://127.0.0.1:${CORRAL_PORT:-8080}"
trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT   # stop the three processes however this script ends

.venv/bin/corral migrate
CORRAL_WORKERS=0 .venv/bin/corral serve &
.venv/bin/corral worker &
.venv/bin/corral worker &
until curl -sf "$CORRAL_URL/healthz" > /dev/null; do sleep 0.2; done
.venv/bin/python examples/coding_agent.py
