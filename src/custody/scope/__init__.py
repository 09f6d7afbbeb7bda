"""The scope record: what was taken from a witness's device, and why.

UK law (Police, Crime, Sentencing and Courts Act 2022, s.37) allows taking from
a witness's device only what is necessary and proportionate, after written
notice. `custody select` evaluates a filter (query.py) over a bundle's items
(items.py: its files and the members of its phone extractions) and writes a
signed, ledger-recorded scope record (record.py, select.py) that keeps the
notice, the filter, the reason and exactly which items were selected;
check.py re-checks one against a bundle and a list of items used.
docs/extraction.md describes the record and the grammar.
"""
