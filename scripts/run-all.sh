#!/usr/bin/env bash
# Start the web server, a Celery worker and Celery beat; one Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${KPI_HOST:-127.0.0.1}
PORT=${KPI_PORT:-8000}
# Links in e-mails and webhooks point at this server unless SITE_URL says otherwise.
export SITE_URL=${SITE_URL:-http://$HOST:$PORT}

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "Stopping web server, worker and beat..."
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

$BIN/celery -A kpiplatform worker --loglevel=INFO --concurrency=2 --hostname="worker@%h" &
pids+=($!)
$BIN/celery -A kpiplatform beat --loglevel=INFO --pidfile= &
pids+=($!)
$BIN/python manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)

echo "KPI platform on http://$HOST:$PORT/ (worker and beat running). Ctrl-C stops everything."
# Any of the three exiting stops the others.
wait -n
