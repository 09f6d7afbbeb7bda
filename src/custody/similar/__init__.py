"""Perceptual matching: PDQ hashes of images and of video frames, and the
pure grouping of items whose hashes are near (docs/similar.md).

A match is a lead for an analyst, never a conclusion: two items "match" when
their PDQ distance is at most MATCH_DISTANCE and both hashes have a quality of
at least MIN_QUALITY (Meta's published starting points); otherwise a match is
"not detected", which never means the items differ.
"""

from __future__ import annotations

MATCH_DISTANCE = 31
"""Largest PDQ Hamming distance (of 256 bits) reported as a match."""
MIN_QUALITY = 50
"""Smallest PDQ quality (0-100) a hash needs to take part in matching."""
