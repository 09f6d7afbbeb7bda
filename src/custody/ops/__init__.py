"""Operations: keyword-only functions that compose I/O with pure checks and return frozen results."""
