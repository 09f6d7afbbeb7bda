"""A C2SP tlog-witness: cosigns ledger checkpoints that extend the last one it saw."""
