# One file, one reading (issue 22): tests/cli/test_archive_readings.py and test_archive_fuzz.py
# compare what custody reads from a bundle archive with what the extractors a court would
# use write from it: Info-ZIP unzip, 7-Zip and bsdtar (GNU tar and gzip are always there).
need=()
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v 7zz >/dev/null 2>&1 || need+=(7zip)
command -v bsdtar >/dev/null 2>&1 || need+=(libarchive-tools)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
unset need
