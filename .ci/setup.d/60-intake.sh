# The witness web intake (issue 25): its tests drive the upload page in headless Debian
# Chromium (installed by 50-verifier.sh); the page is rebuilt from intake/ with the locked npm
# toolchain and must be byte for byte the one shipped in src/ (a deterministic build).
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  if ! command -v npm >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
fi
(
  cd intake
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  node build.mjs >/dev/null
)
if ! git diff --quiet --exit-code -- src/custody/io/intake/page/; then
  echo "src/custody/io/intake/page/ differs from a fresh build of intake/:" >&2
  echo "run 'cd intake && npm ci && node build.mjs' and commit the result" >&2
  git diff --stat -- src/custody/io/intake/page/ >&2
  exit 1
fi
