"""``digitnet serve`` as a hostile or busy client meets it: listen backlog, idle connections, paths."""

import socket
import time
import urllib.error
import urllib.request

import pytest

from digitnet.web import serve
from digitnet.web.serve import SiteServer, start_server, url_of


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>home</title>")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.json").write_text("{}")
    (tmp_path / "with-index").mkdir()
    (tmp_path / "with-index" / "index.html").write_text("inner")
    return tmp_path


@pytest.fixture
def served(folder, monkeypatch):
    monkeypatch.setattr(serve.SiteHandler, "timeout", 0.5)
    server = start_server(folder, 0)
    yield url_of(server)
    server.shutdown()
    server.server_close()


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_no_directory_listings_and_malformed_paths_are_400(served, capfd):
    assert status(served) == 200 and status(served + "with-index/") == 200
    assert status(served + "models/") == 404 and status(served + "models") in (301, 404)
    assert status(served + "models/a.json") == 200
    for bad in ("%00", "models/a.json%00.html", "%ff%fe", "index.html%00"):
        assert status(served + bad) == 400, bad
    assert status(served + "models/a.json") == 200  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_idle_connection_is_closed_after_the_timeout(served):
    port = int(served.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as idle:
        idle.sendall(b"GET / HTTP/1.1\r\n")  # half a request, then silence
        started = time.perf_counter()
        assert idle.recv(1024) == b""  # the server hung up
        assert time.perf_counter() - started < 3
    assert status(served) == 200


def test_listen_backlog_queues_a_burst_of_clients():
    """With nobody accepting, the kernel completes as many handshakes as the backlog allows
    (the standard library's 5 would make the 7th connection hang)."""
    server = SiteServer(("127.0.0.1", 0), serve.SiteHandler)
    clients = []
    try:
        for _ in range(serve.BACKLOG):
            clients.append(socket.create_connection(server.server_address, timeout=2))
    finally:
        for client in clients:
            client.close()
        server.server_close()
    assert len(clients) == serve.BACKLOG >= 128
