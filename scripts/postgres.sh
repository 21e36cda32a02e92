#!/usr/bin/env bash
# Starts the local PostgreSQL 15 cluster (installing it with apt-get if missing), makes
# sure a role that may create test databases exists, and prints its URL on stdout.
# Prints nothing (and the tests run on SQLite only) where that is impossible.
set -uo pipefail
URL="postgresql://bookrec:bookrec@127.0.0.1:5432/postgres"
log() { echo "postgres.sh: $*" >&2; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing PostgreSQL with apt-get"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2 || { log "install failed"; exit 0; }
  else
    log "PostgreSQL is not installed and cannot be installed here; SQLite only"; exit 0
  fi
fi
if [ "$(id -u)" != 0 ]; then
  log "not root: set BOOKREC_TEST_DATABASE_URL yourself to test on PostgreSQL"; exit 0
fi
VERSION=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
  pg_createcluster "$VERSION" main >&2 || { log "could not create a cluster"; exit 0; }
fi
CLUSTER=$(pg_lsclusters -h | head -1)
read -r CVER CNAME CPORT CSTATUS _ <<<"$CLUSTER"
if [ "$CSTATUS" != "online" ]; then
  pg_ctlcluster --skip-systemctl-redirect "$CVER" "$CNAME" start >&2 || { log "could not start the cluster"; exit 0; }
fi
for _ in $(seq 1 30); do
  su postgres -c "psql -p $CPORT -tAc 'select 1'" >/dev/null 2>&1 && break
  sleep 1
done
su postgres -c "psql -p $CPORT -v ON_ERROR_STOP=1 -q" >&2 <<SQL || { log "could not create the role"; exit 0; }
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bookrec') THEN
    CREATE ROLE bookrec LOGIN PASSWORD 'bookrec' CREATEDB;
  END IF;
END \$\$;
-- DROP DATABASE ... WITH (FORCE) must end an autovacuum worker busy on a test database;
-- without this a role that is not superuser gets "must be a member of the role whose
-- process is being terminated" now and then.
GRANT pg_signal_backend TO bookrec;
SQL
echo "postgresql://bookrec:bookrec@127.0.0.1:$CPORT/postgres"
