"""Operations: keyword-only functions composing I/O with pure checks, returning frozen results."""
