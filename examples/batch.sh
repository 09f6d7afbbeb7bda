#!/usr/bin/env bash
# A batch ingest as a cron job would run it: no terminal, a list of sources with their
# case ids, one JSON line per source, and an exit code that says whether all succeeded.
#
#   examples/batch.sh [OUT_DIR]
#
# Uses a throw-away $CUSTODY_HOME and passphrase file; one source in the list is missing
# on purpose, to show that the batch goes on and reports it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
out=${1:-$work/bundles}
export CUSTODY_HOME="$work/home"
printf 'batch-demo-passphrase\n' > "$work/passphrase"
chmod 600 "$work/passphrase"
custody=${CUSTODY:-custody}

$custody keygen --name "Batch Officer" --passphrase-file "$work/passphrase" --json > /dev/null

printf '%s\t%s\t%s\n' \
  "$here/evidence" "DEMO-2026-001" "W1/1" \
  "$here/evidence/WhatsApp Chat - Olena K" "DEMO-2026-001" "W1/2" \
  "$work/no-such-folder" "DEMO-2026-002" "W2/1" > "$work/sources.tsv"

$custody ingest --from "$work/sources.tsv" --out "$out" \
  --passphrase-file "$work/passphrase" --json < /dev/null > "$work/results.jsonl"
status=$?

cat "$work/results.jsonl"
echo "exit code: $status (0 only when every source was ingested)"
# Every bundle that was made verifies: all of them checked by one process, one line each.
grep -o '"bundle": "[^"]*"' "$work/results.jsonl" | cut -d'"' -f4 > "$work/bundles.txt"
$custody verify --from "$work/bundles.txt" < /dev/null || exit 1
exit "$status"
