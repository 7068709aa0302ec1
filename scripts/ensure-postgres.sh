#!/usr/bin/env bash
# The test suite needs PostgreSQL on 127.0.0.1:5432 (trust auth). This machine kind installs it and
# usually starts it; start it when it is installed but stopped. Quiet when it already runs.
set -u
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  echo "[ensure-postgres] starting PostgreSQL $version" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
    sleep 1
  done
fi
echo "[ensure-postgres] PostgreSQL is not reachable on 127.0.0.1:5432; the PostgreSQL tests will fail" >&2
exit 0
