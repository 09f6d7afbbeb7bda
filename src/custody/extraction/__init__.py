"""Phone extractions read in place: Cellebrite UFDR reports, iOS backup folders
and Android file-system tars.

The extraction as handed over stays the evidence (a .ufdr or .tar file is
copied byte for byte; an iOS backup folder is copied file by file). What this
package adds is the list of its members, each with the path it had on the
device, streamed into one JSON line per member (docs/extraction.md):

- `members`: the common member record and the checks on device paths (text,
  never used as a path);
- `ufdr`, `tar`, `ios`: pure readers of report.xml, tar headers and the rows
  of Manifest.db (with the NSKeyedArchiver file records; the rows are read
  by the sqlite adapter custody.io.manifest_db, handed down by the operation);
- `hook`: the calls ingest makes per copied file;
- `detect`: which files of a source are extractions;
- `record`: the member list of one extraction written beside the metadata;
- `check`: the verifier's check of those lists against the signed metadata;
(Working copies of an Android tar's members for `--expand`:
custody.bundle.write.expand_extraction.)
"""
