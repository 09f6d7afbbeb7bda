"""ops.ledger"""
