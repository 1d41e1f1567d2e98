"""`embedlite serve` against clients that send too much, too slowly or nothing: long texts, trickling bodies, idle
and half-sent connections, the connection limit, a client that hangs up mid-body. Real servers on loopback."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest
from serve_process import ServeProcess

pytest.importorskip("uvicorn")

READ_TIMEOUT = 2  # seconds: the tight server's --read-timeout
KEEP_ALIVE = 1


@pytest.fixture(scope="module")
def tight(minilm_artifact, tmp_path_factory):
    """Short deadlines, and a body limit that lets a long text in."""
    tmp = tmp_path_factory.mktemp("tight")
    proc = ServeProcess(
        tmp,
        "--model",
        str(minilm_artifact),
        "--workers",
        "1",
        "--max-body-mb",
        "20",
        "--keep-alive",
        str(KEEP_ALIVE),
        "--read-timeout",
        str(READ_TIMEOUT),
        "--store",
        str(tmp / "notes.db"),
    )
    yield proc
    assert proc.stop() in (0, -15), proc.log.read_text()


def peak_rss_mb(pid: int) -> float:
    found = re.search(r"^VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert found
    return int(found.group(1)) / 1024


def connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    return sock


def read_response(sock: socket.socket) -> bytes:
    """One whole response (its head and Content-Length bytes of body) from a connection that stays open."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def read_all(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection (the socket's 60 s timeout bounds the wait)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's peak RSS from /proc")
def test_a_long_text_is_cut_before_tokenising_so_memory_stays_flat(tight, embedder):
    """A 15 MB request took 2.7 GB (the tokenizer's overflowing encodings, ~150x the text) and held the GIL for
    seconds; texts are now cut to max tokens x 32 characters first. Truncation as before: max_seq_length tokens."""
    assert tight.request("POST", "/v1/embeddings", {"input": "warm up " * 1000})[0] == 200
    before = peak_rss_mb(tight.proc.pid)
    long = "word " * (8 * 2**20 // 5)  # 8 MB
    status, _, reply = tight.request("POST", "/v1/embeddings", {"input": [long, "short"]})
    assert status == 200, reply
    assert reply["usage"]["prompt_tokens"] == embedder.manifest.max_seq_length + len(embedder.tokenize(["short"])[0][0])
    grown = peak_rss_mb(tight.proc.pid) - before
    assert grown < 300, f"the server's peak RSS grew {grown:.0f} MB for an 8 MB text"
    assert tight.request("GET", "/health")[0] == 200


def test_a_body_that_trickles_in_gets_408_and_the_connection_is_closed(tight):
    """A half-sent body held its connection (and a task) open forever."""
    with connect(tight) as sock:
        sock.sendall(
            b"POST /v1/embeddings HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"input": "'
        )
        reply = read_all(sock)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), reply
    assert b"connection: close" in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "request_timeout" and f"within {READ_TIMEOUT} s" in error["message"]


def test_idle_and_half_sent_connections_are_closed(tight):
    """A connection that sent nothing, or half a request line, stayed open forever: enough of them reached the
    file limit, and then every new client was refused."""
    idle, half = connect(tight), connect(tight)
    half.sendall(b"GET /health HT")
    with idle, half:
        assert read_all(idle) == b""  # closed by the server, without an answer: there was no request
        assert read_all(half) == b""
    assert tight.request("GET", "/health")[0] == 200


def test_a_client_hanging_up_mid_body_leaves_no_traceback(tight):
    """Each such connection logged two tracebacks (ClientDisconnect, then uvicorn's 'Exception in ASGI app')."""
    for path in ("/v1/embeddings", "/v1/stores/notes/add"):
        with connect(tight) as sock:
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                'Content-Length: 100000\r\n\r\n{"input": "abc'.encode()
            )
            time.sleep(0.5)  # the app is reading the body when the client leaves
    for _ in range(3):  # the server has seen the hang-ups by the time it answers these
        assert tight.request("GET", "/health")[0] == 200
    log = tight.log.read_text()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log


@pytest.fixture(scope="module")
def limited(minilm_artifact, tmp_path_factory):
    """Four connections at most, long deadlines (so idle connections stay until the limit closes them)."""
    proc = ServeProcess(
        tmp_path_factory.mktemp("limited"),
        "--model",
        str(minilm_artifact),
        "--workers",
        "1",
        "--max-connections",
        "4",
        "--keep-alive",
        "300",
        "--read-timeout",
        "300",
    )
    yield proc
    assert proc.stop() in (0, -15), proc.log.read_text()


HEALTH = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"


def test_at_the_connection_limit_idle_connections_make_room_then_503(limited):
    """Idle clients could hold every connection the server can open; a new client now closes the longest-idle one,
    and when all are busy it gets 503 with Retry-After (in the API's JSON shape), not a refused connection."""
    idle = [connect(limited) for _ in range(4)]
    for sock in idle:  # each asks once and stays open (keep-alive): idle, not busy
        sock.sendall(HEALTH)
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
    assert limited.request("GET", "/health")[0] == 200  # a fifth client is served...
    assert read_all(idle[0]) == b""  # ...and the longest-idle connection was closed to make room
    for sock in idle:
        sock.close()
    busy = [connect(limited) for _ in range(4)]
    for sock in busy:  # each is busy: the app waits for a body that is not coming
        sock.sendall(
            b"POST /v1/embeddings HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
    time.sleep(0.5)
    status, headers, reply = limited.request("GET", "/health")
    assert status == 503 and headers.get("retry-after") == "1", (status, reply)
    assert reply["error"]["code"] == "too_many_connections" and "4 connections" in reply["error"]["message"]
    for sock in busy:
        sock.close()
    deadline = time.monotonic() + 60
    while limited.request("GET", "/health")[0] != 200:  # the busy ones gone, clients are served again
        assert time.monotonic() < deadline
        time.sleep(0.2)
