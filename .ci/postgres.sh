#!/usr/bin/env bash
# Best effort: a local PostgreSQL with a scratch database, so CI's DB tests also cover the pg adapter and the
# PostgreSQL migrations. Prints the URL on success; exits non-zero (and CI carries on with SQLite only) otherwise.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
pg_lsclusters -h | grep -q "^$version main" || pg_createcluster "$version" main >&2
pg_ctlcluster "$version" main start >&2 2>/dev/null || pg_ctlcluster "$version" main status >/dev/null
for _ in $(seq 1 30); do su postgres -c "pg_isready -q" && break; sleep 1; done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='tessera'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE tessera LOGIN PASSWORD 'tessera'\"" >&2
# Each test file creates a database of its own beside this one (test/fixtures/scratch-db.ts ownPgDatabase).
su postgres -c "psql -qc \"ALTER ROLE tessera CREATEDB\"" >&2
su postgres -c "dropdb --if-exists tessera_ci" >&2
su postgres -c "createdb -O tessera tessera_ci" >&2
echo "postgresql://tessera:tessera@127.0.0.1:5432/tessera_ci"
