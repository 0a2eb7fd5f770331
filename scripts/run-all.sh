#!/usr/bin/env bash
# Start the web server, a Celery worker and Celery beat; restart any of them that dies; one Ctrl-C stops all three.
set -uo pipefail # no -e: a child's failure must not end the supervisor
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${KPI_HOST:-127.0.0.1}
PORT=${KPI_PORT:-8000}
# Links in e-mails and webhooks point at this server unless SITE_URL says otherwise.
export SITE_URL=${SITE_URL:-http://$HOST:$PORT}
# The three commands (the tests run the script with stand-ins).
WORKER_CMD=${KPI_RUN_WORKER:-"$BIN/celery -A kpiplatform worker --loglevel=INFO --concurrency=2 --hostname=worker@%h"}
BEAT_CMD=${KPI_RUN_BEAT:-"$BIN/celery -A kpiplatform beat --loglevel=INFO --pidfile="}
WEB_CMD=${KPI_RUN_WEB:-"$BIN/python manage.py runserver $HOST:$PORT --noreload"}
# A child that dies is started again after RESTART_DELAY seconds, doubled (up to 30) while it keeps dying
# within a minute of its start, so a broken configuration does not spin.
RESTART_DELAY=${KPI_RESTART_DELAY:-1}

# supervise NAME COMMAND: run COMMAND again each time it exits, until this supervisor is sent TERM.
supervise() {
  local name=$1 command=$2 delay=$RESTART_DELAY child="" started status
  # Ctrl-C reaches every process of the terminal: the supervisors leave it to the main script, which stops them
  # with TERM (otherwise a supervisor dying of it would leave its child running).
  trap '' INT
  trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait 2>/dev/null; exit 0' TERM
  while true; do
    started=$SECONDS
    bash -c "exec $command" &
    child=$!
    status=0
    wait "$child" || status=$?
    if ((SECONDS - started >= 60)); then delay=$RESTART_DELAY; fi
    echo "run-all: $name exited (status $status) after $((SECONDS - started)) s; restarting it in $delay s." >&2
    sleep "$delay" &
    child=$!
    wait "$child"
    delay=$((delay * 2 > 30 ? 30 : delay * 2))
  done
}

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "Stopping web server, worker and beat..."
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

supervise worker "$WORKER_CMD" &
pids+=($!)
supervise beat "$BEAT_CMD" &
pids+=($!)
supervise web "$WEB_CMD" &
pids+=($!)

echo "KPI platform on http://$HOST:$PORT/ (worker and beat running, restarted if they stop). Ctrl-C stops everything."
wait
