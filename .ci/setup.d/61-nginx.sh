# Several intake servers behind one proxy (issue 25): tests/integration/test_intake_shared.py
# runs the nginx upstream configuration of docs/intake.md in front of two servers.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
  fi
fi
