# The key register (issue 13): its by-hand recipe in docs/keys.md, run by
# tests/cli/test_authority.py, reads the register file with jq.
if ! command -v jq >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq >/dev/null
fi
