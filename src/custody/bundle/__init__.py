"""The bundle format: writing, reading and verifying signed BagIt bundles.

A regular package (it was a namespace package) so that the import contracts in
.importlinter can see and protect its modules; see docs/architecture.md.
"""
