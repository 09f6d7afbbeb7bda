# Trusted time (issue 12): the tests' TSA is `openssl ts -reply` (openssl is installed by
# .ci/run); tokens with a genTime in the past are made under libfaketime.
if ! command -v faketime >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends faketime >/dev/null
fi
