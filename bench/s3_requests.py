"""Run custody with every HTTP request to object storage counted (for bench.store).

    python -m bench.s3_requests COUNTS.json custody-arguments...

Counts each request botocore sends (retries included) by HTTP method and
writes them as JSON when custody exits. For the benchmark only.
"""

from __future__ import annotations

import atexit
import json
import sys
from collections import Counter
from typing import Any

from botocore.endpoint import Endpoint


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    counts: Counter[str] = Counter()
    send = Endpoint._send

    def counted(self: Any, request: Any) -> Any:
        counts[request.method] += 1
        return send(self, request)

    Endpoint._send = counted

    def write() -> None:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(dict(counts), fh)

    atexit.register(write)
    sys.argv = ["custody", *args]
    from custody.cli import main as custody_main

    custody_main()


if __name__ == "__main__":
    main()
