# The team log's tests start their own PostgreSQL (tests/pg_server.py): they need
# Debian's server binaries (initdb, postgres), found in /usr/lib/postgresql/<ver>/bin.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    echo "PostgreSQL is not installed and cannot be installed here: the team log tests will be skipped"
  fi
fi
