#!/usr/bin/env bash
# Start the services the integration tests need (PostgreSQL on 127.0.0.1:5432) if they are
# installed but not running. Tests of the SQL store run against a real PostgreSQL.
set -u
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL..."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if pg_up; then echo "PostgreSQL is up on 127.0.0.1:5432"; else
  echo "PostgreSQL is not reachable on 127.0.0.1:5432: the PostgreSQL store tests will fail" \
       "(set AIRFOIL_SKIP_PG=1 to skip them deliberately)" >&2
fi
