"""The thin HTTP adapter around the witness handler (http.server, one thread
per connection, HTTP/1.1 keep-alive), logging one line per request on stderr."""

from __future__ import annotations

import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from custody.base.errors import InputError
from custody.base.utc import utc_now_text
from custody.witness.handler import Witness
from custody.witness.protocol import MAX_BODY_BYTES, Request, Response

READ_TIMEOUT_S = 30.0


def parse_listen(value: str) -> tuple[str, int]:
    """HOST:PORT (port 0 picks a free one). Raises InputError."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise InputError("--listen takes HOST:PORT, e.g. 127.0.0.1:8080", path=value)
    return host, int(port)


def make_server(
    witness: Witness, host: str, port: int, log: Callable[[str], None]
) -> ThreadingHTTPServer:
    """A server bound to host:port (not yet serving)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "custody-witness"
        timeout = READ_TIMEOUT_S

        def _answer(self, method: str) -> None:
            url = urlsplit(self.path)
            body = b""
            length_text = self.headers.get("Content-Length", "0")
            try:
                length = int(length_text)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY_BYTES:
                response = Response(400, b"bad or too large Content-Length\n", log="bad length")
                self.close_connection = True
            else:
                body = self.rfile.read(length) if length else b""
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                try:
                    response = witness.handle(
                        Request(method, url.path, body, query, self.client_address[0])
                    )
                except Exception as e:  # a bug must not cost a traceback per request
                    response = Response(500, b"internal error\n", log=f"internal error: {e!r}")
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
            stamp = utc_now_text()
            log(
                f"{stamp} {self.client_address[0]} {method} {url.path} "
                f"{response.status} {response.log}"
            )

        def do_POST(self) -> None:
            self._answer("POST")

        def do_GET(self) -> None:
            self._answer("GET")

        def do_PUT(self) -> None:
            self._answer("PUT")

        def do_DELETE(self) -> None:
            self._answer("DELETE")

        def log_error(self, format: str, *args: object) -> None:
            # requests http.server rejects itself (a malformed request line...)
            stamp = utc_now_text()
            log(f"{stamp} {self.client_address[0]} - - - {format % args}")

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per request is written by _answer

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    try:
        return Server((host, port), Handler)
    except OSError as e:
        raise InputError(f"cannot listen ({e.strerror})", path=f"{host}:{port}") from e


def unix_now() -> int:
    return int(time.time())
