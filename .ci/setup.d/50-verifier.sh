# The offline verifier page (issue 16): its tests drive the page in headless Debian
# Chromium through chromium-driver; the page is rebuilt from verifier/ with the locked npm
# toolchain and must be byte for byte the one shipped in src/ (a deterministic build).
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  need=()
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
  command -v npm >/dev/null || need+=(nodejs npm)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi
(
  cd verifier
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  node build.mjs >/dev/null
)
if ! git diff --quiet --exit-code -- src/custody/ops/verifier_page/verify-bundle.html; then
  echo "src/custody/ops/verifier_page/verify-bundle.html differs from a fresh build of verifier/:" >&2
  echo "run 'cd verifier && npm ci && node build.mjs' and commit the result" >&2
  git diff --stat -- src/custody/ops/verifier_page/verify-bundle.html >&2
  exit 1
fi
