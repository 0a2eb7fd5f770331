#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on loopback; start them when installed but stopped.
#   ensure-services.sh                      start what is missing (fails on CI if it cannot)
#   ensure-services.sh --check-postgres URL exit 0 when that PostgreSQL answers
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

pg_up() {
  "$PY" - "$1" <<'PYEOF'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=3).close()
except Exception as exc:
    sys.exit(1)
PYEOF
}
redis_up() { "$PY" -c "import redis,sys; redis.Redis.from_url('${1}', socket_timeout=2).ping()" 2>/dev/null; }

if [ "${1:-}" = "--check-postgres" ]; then pg_up "$2"; exit $?; fi

PG_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
REDIS=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
status=0

if ! pg_up "$PG_URL"; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "Starting PostgreSQL..."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 20); do pg_up "$PG_URL" && break; sleep 1; done
  fi
  pg_up "$PG_URL" || { echo "PostgreSQL is not reachable at $PG_URL"; [ -n "${CI:-}" ] && status=1; }
fi

if ! redis_up "$REDIS"; then
  if command -v redis-server >/dev/null; then
    echo "Starting Redis..."
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 1 20); do redis_up "$REDIS" && break; sleep 0.5; done
  fi
  redis_up "$REDIS" || { echo "Redis is not reachable at $REDIS"; [ -n "${CI:-}" ] && status=1; }
fi
exit $status
