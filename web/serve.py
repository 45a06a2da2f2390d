"""Serving a built site on 127.0.0.1, with the headers a static host would send and a strict CSP.

Hardened as a static host is: a listen backlog of ``BACKLOG`` (a burst of clients queues instead
of being refused), a per-connection timeout (an idle or half-open connection gives its thread back
after ``TIMEOUT`` seconds), no directory listings (404) and 400 for a path that is not valid
percent-encoded UTF-8 or holds a NUL byte.
"""

from __future__ import annotations

import functools
import http.server
import threading
import urllib.parse
from pathlib import Path
from typing import ClassVar

#: Sent with every response, the worker's included (a <meta> CSP does not reach a worker).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; "
    "img-src 'self' data: blob:; style-src 'self'; manifest-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

#: Connections the kernel queues while every thread is busy (the standard library's default is 5).
BACKLOG = 128
TIMEOUT = 10.0


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with correct types for modules, WebAssembly and the manifest; quiet unless verbose."""

    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".webmanifest": "application/manifest+json",
        ".whl": "application/zip",
        ".json": "application/json",
        ".svg": "image/svg+xml",
    }
    verbose: ClassVar[bool] = False
    timeout = TIMEOUT  # seconds a connection may stay silent, while a request is read or sent
    # headers and body go out in two writes: without TCP_NODELAY a small body waits for the client's
    # (delayed) acknowledgement of the headers
    disable_nagle_algorithm = True

    def send_head(self):
        """The file's headers, or 400 for a malformed path (before it reaches the file system)."""
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        try:
            decoded = urllib.parse.unquote(path, errors="strict")
        except UnicodeDecodeError:
            decoded = "\0"
        if "\0" in decoded or not path.startswith("/"):
            self.send_error(400, "Malformed path")
            return None
        return super().send_head()

    def copyfile(self, source, outputfile) -> None:
        """The file's body with ``sendfile``: the kernel copies it, the interpreter stays free for other clients."""
        outputfile.flush()
        self.connection.sendfile(source)

    def list_directory(self, path):
        """No listings: a folder without ``index.html`` is not found, as on a static host."""
        self.send_error(404, "Not found")
        return None

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        if self.verbose:
            super().log_message(format, *args)


class SiteServer(http.server.ThreadingHTTPServer):
    """One thread per connection, a deep listen queue, and no tracebacks for clients that hang up."""

    request_queue_size = BACKLOG
    verbose = False

    def handle_error(self, request, client_address) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


def start_server(site: Path, port: int = 8000, verbose: bool = False) -> http.server.ThreadingHTTPServer:
    """Serve ``site`` on 127.0.0.1:``port`` (0 picks a free port) from a background thread.

    Raises ``OSError`` when the port cannot be had (in use, or privileged).
    """
    handler = functools.partial(type("Handler", (SiteHandler,), {"verbose": verbose}), directory=str(site))
    server = SiteServer(("127.0.0.1", port), handler)
    server.verbose = verbose
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def url_of(server: http.server.ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"
