# The team log's tests start their own PostgreSQL (tests/pg_server.py): they need
# Debian's server binaries (initdb, postgres, in /usr/lib/postgresql/<ver>/bin) and the
# `postgres` user to run them as (initdb refuses root). No cluster is created or started.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    mkdir -p /etc/postgresql-common
    [ -e /etc/postgresql-common/createcluster.conf ] ||
      echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    echo "PostgreSQL is not installed and cannot be installed here: the team log tests are skipped"
  fi
fi
