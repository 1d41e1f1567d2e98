"""`embedlite serve` with real clients on loopback: the official openai package and plain HTTP.

One server for the module (an API key, one store, two workers, a small queue so that overload is cheap to reach).
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time

import numpy as np
import pytest
from serve_process import ServeProcess

from embedlite import VectorStore

openai = pytest.importorskip("openai")

KEY = "test-key-0123456789"
MAX_QUEUE = 64
MAX_BODY = 1 << 20


@pytest.fixture(scope="module")
def server(minilm_artifact, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    proc = ServeProcess(
        tmp,
        "--model",
        str(minilm_artifact),
        "--api-key",
        KEY,
        "--store",
        f"{tmp / 'notes.db'}",
        "--max-queue",
        str(MAX_QUEUE),
        "--max-batch",
        "16",
        "--max-body-mb",
        str(MAX_BODY / 2**20),
        "--workers",
        "2",
    )
    yield proc
    assert proc.stop() in (0, -15), proc.log.read_text()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0)


def cosines(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_openai_client_float_and_base64_match_embedder(client, embedder, sts_slice):
    texts = sts_slice.sentences1[:20] + sts_slice.sentences1[:1] * 8  # 9 texts of one length: split over the workers
    expected = embedder.embed(texts)
    as_float = client.embeddings.create(input=texts, model="all-MiniLM-L6-v2", encoding_format="float")
    as_base64 = client.embeddings.create(input=texts, model="all-MiniLM-L6-v2")  # the client asks for base64
    for response in (as_float, as_base64):
        got = [d.embedding for d in sorted(response.data, key=lambda d: d.index)]
        assert cosines(got, expected).min() > 1 - 1e-6
        assert response.model == "all-MiniLM-L6-v2"
        assert response.usage.prompt_tokens == sum(len(ids) for ids in embedder.tokenize(texts)[0])
    one = client.embeddings.create(input=texts[0], model="all-MiniLM-L6-v2", encoding_format="float")
    assert len(one.data) == 1 and cosines([one.data[0].embedding], expected[:1])[0] > 1 - 1e-6


def test_dimensions_truncate_and_renormalise(client, embedder, sts_slice):
    texts = sts_slice.sentences2[:5]
    response = client.embeddings.create(input=texts, model="all-MiniLM-L6-v2", dimensions=128)
    got = np.array([d.embedding for d in response.data])
    assert got.shape == (5, 128)
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert cosines(got, embedder.embed(texts, dim=128)).min() > 1 - 1e-6


def test_openai_client_errors(client, server):
    with pytest.raises(openai.BadRequestError, match="supported dims: 384, 256, 128, 64") as err:
        client.embeddings.create(input="x", model="all-MiniLM-L6-v2", dimensions=100)
    assert err.value.body["param"] == "dimensions"
    # a client's default model name is answered by the one model served (test_integrations checks the vectors)
    assert client.embeddings.create(input="x", model="text-embedding-3-small").model == "all-MiniLM-L6-v2"
    with pytest.raises(openai.BadRequestError, match="encoding_format"):
        client.embeddings.create(input="x", model="all-MiniLM-L6-v2", encoding_format="int8")
    with pytest.raises(openai.BadRequestError, match="empty list"):
        client.embeddings.create(input=[], model="all-MiniLM-L6-v2")
    with pytest.raises(openai.BadRequestError, match="token arrays are not supported"):
        client.embeddings.create(input=[[101, 2023]], model="all-MiniLM-L6-v2")
    with pytest.raises(openai.AuthenticationError, match="API key"):
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0).embeddings.create(
            input="x", model="all-MiniLM-L6-v2"
        )
    models = client.models.list().data
    assert [m.id for m in models] == ["all-MiniLM-L6-v2"] and models[0].dimensions == [384, 256, 128, 64]


def test_long_input_is_truncated_not_refused(client, embedder):
    long = "word " * 2000
    response = client.embeddings.create(input=[long], model="all-MiniLM-L6-v2")
    assert response.usage.prompt_tokens == embedder.manifest.max_seq_length
    with pytest.warns(UserWarning, match="truncated"):
        expected = embedder.embed([long])
    assert cosines([response.data[0].embedding], expected)[0] > 1 - 1e-6


def test_concurrent_requests_from_threads_match_embedder(server, embedder, sts_slice):
    texts = sts_slice.sentences1[:96] + sts_slice.sentences2[:96]
    expected = embedder.embed(texts)
    got: dict[int, list[float]] = {}
    errors: list[Exception] = []

    def worker(start: int) -> None:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0)
        try:
            for i in range(start, len(texts), 16):  # one text per request: the server batches them
                got[i] = client.embeddings.create(input=texts[i], model="all-MiniLM-L6-v2").data[0].embedding
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(start,)) for start in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert cosines([got[i] for i in range(len(texts))], expected).min() > 1 - 1e-6


def test_api_key_guards_every_route_but_health(server):
    for method, path, body in (
        ("GET", "/v1/models", None),
        ("POST", "/v1/embeddings", {"input": "x"}),
        ("GET", "/v1/stores", None),
        ("POST", "/v1/stores/notes/search", {"query": "x"}),
    ):
        for key in (None, "wrong", KEY + "x", KEY[:-1]):
            status, headers, reply = server.request(method, path, body, key=key)
            assert status == 401 and reply["error"]["code"] == "invalid_api_key", (path, key)
    status, _, reply = server.request(
        "POST", "/v1/embeddings", {"input": "x"}, headers={"Authorization": f"Basic {KEY}"}
    )
    assert status == 401
    status, _, reply = server.request("GET", "/health")
    assert status == 200 and reply["status"] == "ok"


def test_oversize_requests_get_413_with_the_limit(server):
    # refused from the Content-Length header alone: the body is never read
    status, reply = _send_partly(server, {"Content-Length": str(MAX_BODY + 1)}, b"")
    assert status == 413 and str(MAX_BODY) in reply["error"]["message"]
    # a chunked body has no length: it is counted as it streams in, and refused once past the limit
    chunk = b"[" + b" " * (1 << 16) + b"]"
    frames = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(MAX_BODY // len(chunk) + 2))
    status, reply = _send_partly(server, {"Transfer-Encoding": "chunked"}, frames)
    assert status == 413 and str(MAX_BODY) in reply["error"]["message"]
    status, _, reply = server.request("POST", "/v1/embeddings", {"input": ["a"] * (MAX_QUEUE + 1)}, key=KEY)
    assert status == 413 and f"the limit is {MAX_QUEUE}" in reply["error"]["message"]
    assert server.request("GET", "/health")[0] == 200


def _send_partly(server, headers: dict, data: bytes) -> tuple[int, dict]:
    """Headers and part of a body, then the response (which must come before the body ends)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.putrequest("POST", "/v1/embeddings")
    for name, value in {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}", **headers}.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(data)
    response = conn.getresponse()
    try:
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_hostile_requests_get_clear_errors(server):
    cases = [
        (b"{not json", {}, 400, "not valid JSON"),
        (b"[" * 50_000, {}, 400, "not valid JSON"),
        (b'["a list"]', {}, 400, "must be a JSON object"),
        (b'{"input": "x"}', {"Content-Type": "text/plain"}, 415, "Content-Type: application/json"),
        (b'{"input": 42}', {}, 400, "input must be a string or a list of strings"),
        (b'{"input": "x", "dimensions": "128"}', {}, 400, "supported dims"),
        (b'{"input": "x", "task": "query"}', {}, 400, "unknown task 'query'"),
    ]
    for body, headers, status, message in cases:
        got, _, reply = server.request("POST", "/v1/embeddings", body, key=KEY, headers=headers)
        assert got == status and message in reply["error"]["message"], (body[:30], reply)
    assert server.request("GET", "/v1/nothing", key=KEY)[0] == 404
    assert server.request("GET", "/v1/embeddings", key=KEY)[0] == 405
    assert server.request("GET", "/health")[0] == 200


def test_a_wrong_host_gets_the_apis_json_error(server):
    """A page whose DNS name was rebound to 127.0.0.1 sends its own Host: refused, in the error shape every other
    refusal has (Starlette's TrustedHostMiddleware answered in plain text)."""
    for host in ("evil.example", "evil.example:8000", "[::2]:8000"):
        status, _, reply = server.request("GET", "/health", headers={"Host": host})
        assert status == 400 and reply["error"]["code"] == "invalid_host", reply
        assert f"the Host header {host!r} is not one this server answers to" in reply["error"]["message"]
    for host in ("localhost", f"127.0.0.1:{server.port}", f"LOCALHOST:{server.port}"):
        assert server.request("GET", "/health", headers={"Host": host})[0] == 200, host


def test_a_store_path_that_does_not_exist_is_said_at_start(server):
    """A mistyped --store path starts a new, empty store: the log says so (it used to be silent)."""
    assert "notes.db does not exist yet: store 'notes' starts empty" in server.log.read_text()


def test_store_endpoints(server, embedder, data_dir):
    texts = ["Buy oat milk", "Dentist on Friday at 10", "Renew the passport before June"]
    meta = [{"kind": "shopping"}, {"kind": "health", "year": 2026}, {"kind": "admin", "year": 2025}]
    status, _, reply = server.request(
        "POST", "/v1/stores/notes/add", {"ids": ["n1", "n2", "n3"], "texts": texts, "metadata": meta}, key=KEY
    )
    assert status == 200 and reply == {"written": 3, "count": 3, "already_stored": 0}
    vector = embedder.embed("a visit to the doctor").tolist()
    status, _, reply = server.request(
        "POST", "/v1/stores/notes/add", {"ids": ["v1"], "vectors": [vector], "metadata": [{"kind": "health"}]}, key=KEY
    )
    assert status == 200 and reply["count"] == 4

    def search(**body):
        status, _, reply = server.request("POST", "/v1/stores/notes/search", body, key=KEY)
        assert status == 200, reply
        return [hit["id"] for hit in reply["data"]]

    assert search(query="when is my appointment", k=1) == ["n2"]
    assert search(query=vector, k=1) == ["v1"]
    assert search(query="passport", mode="keyword") == ["n3"]
    assert search(query="dentist appointment", mode="hybrid", filter={"year": {"$gte": 2026}}) == ["n2"]
    status, _, reply = server.request(
        "POST", "/v1/stores/notes/upsert", {"ids": ["n1"], "texts": ["Buy soy milk"]}, key=KEY
    )
    assert status == 200 and reply == {"written": 1, "count": 4}
    status, _, reply = server.request("POST", "/v1/stores/notes/get", {"ids": ["n1", "gone"]}, key=KEY)
    assert reply["data"] == [{"id": "n1", "text": "Buy soy milk", "metadata": None}, None]
    status, _, reply = server.request("POST", "/v1/stores/notes/delete", {"ids": ["n1", "gone"]}, key=KEY)
    assert reply == {"deleted": 1, "count": 3}
    status, _, reply = server.request("GET", "/v1/stores/notes", key=KEY)
    assert reply["count"] == 3 and reply["dim"] == 384 and reply["model"] == "all-MiniLM-L6-v2"
    status, _, reply = server.request("POST", "/v1/stores/other/search", {"query": "x"}, key=KEY)
    assert status == 404 and "this server has: notes" in reply["error"]["message"]
    status, _, reply = server.request("POST", "/v1/stores/..%2Fnotes/search", {"query": "x"}, key=KEY)
    assert status == 404


def test_store_errors_are_the_python_apis(server, tmp_path):
    """Each bad request gets the message the Python API raises for the same input; nothing is written."""
    scratch = VectorStore(tmp_path / "scratch.db", dim=384)
    good = [[0.1] * 384]
    writes = [
        {"ids": ["a", "a"], "vectors": good * 2},
        {"ids": ["a"], "vectors": [[0.1] * 10]},
        {"ids": ["a"], "vectors": [[float("nan")] * 384]},
        {"ids": ["a"], "vectors": good, "metadata": ["not a dict"]},
        {"ids": "a", "vectors": good},
        {"ids": [""], "vectors": good},
        {"ids": ["a", "b"], "vectors": good},
    ]
    for body in writes:
        with pytest.raises((ValueError, TypeError)) as expected:
            scratch.add(body["ids"], vectors=body["vectors"], metadata=body.get("metadata"))
        status, _, reply = server.request("POST", "/v1/stores/notes/add", body, key=KEY)
        assert status == 400 and reply["error"]["message"] == str(expected.value), body
    searches = [
        {"query": "x", "mode": "fuzzy"},
        {"query": "x", "k": 0},
        {"query": "x", "filter": {"a": {"$regex": 1}}},
        {"query": [0.1] * 3},
        {"query": "x", "filter": {"bad key!": 1}},
    ]
    for body in searches:  # each fails before any embedding
        with pytest.raises((ValueError, TypeError)) as expected:
            scratch.search(
                body["query"], k=body.get("k", 10), mode=body.get("mode", "vector"), filter=body.get("filter")
            )
        status, _, reply = server.request("POST", "/v1/stores/notes/search", body, key=KEY)
        assert status == 400 and reply["error"]["message"] == str(expected.value), body
    scratch.close()
    assert server.request("GET", "/v1/stores/notes", key=KEY)[2]["count"] == 3


def test_overload_gives_429_and_the_server_stays_up(server, sts_slice):
    long_texts = [" ".join(sts_slice.sentences1[i : i + 12]) for i in range(MAX_QUEUE)]  # ~256 tokens each
    big: dict = {}
    thread = threading.Thread(
        target=lambda: big.update(reply=server.request("POST", "/v1/embeddings", {"input": long_texts}, key=KEY))
    )
    thread.start()
    while server.request("GET", "/health")[2]["queued_texts"] < MAX_QUEUE and thread.is_alive():
        time.sleep(0.005)
    statuses = []
    while thread.is_alive():  # the queue is full until the big request is answered
        status, headers, reply = server.request("POST", "/v1/embeddings", {"input": "one more"}, key=KEY)
        statuses.append(status)
        if status == 429:
            assert int(headers["retry-after"]) >= 1 and reply["error"]["code"] == "rate_limit_exceeded"
        health = server.request("GET", "/health")
        assert health[0] == 200  # answered while the model is busy
    thread.join()
    assert 429 in statuses and set(statuses) <= {200, 429}
    assert big["reply"][0] == 200 and len(big["reply"][2]["data"]) == MAX_QUEUE
    assert server.request("POST", "/v1/embeddings", {"input": "after"}, key=KEY)[0] == 200
    assert math.isclose(server.request("GET", "/health")[2]["queued_texts"], 0)


def test_a_non_ascii_api_key_matches_a_utf8_client():
    """The header was decoded as latin-1 and compared with the key's UTF-8 bytes: such a key could never match."""
    import asyncio

    from embedlite.server.guards import ApiKeyGuard

    async def ok(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def status(authorization: bytes) -> int:
        sent = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        scope = {
            "type": "http",
            "path": "/v1/models",
            "method": "GET",
            "headers": [(b"authorization", authorization)],
            "query_string": b"",
        }
        asyncio.run(ApiKeyGuard(ok, "clé-ß€")(scope, receive, send))
        return sent[0]["status"]

    assert status("Bearer clé-ß€".encode()) == 200
    assert status("bearer  clé-ß€ ".encode()) == 200
    assert status("Bearer clé-ß€".encode("latin-1", "replace")) == 401
    assert status(b"Bearer wrong") == 401 and status(b"") == 401


def test_store_requests_beyond_sqlites_limits_get_400_naming_them(server):
    """Each came back as '500 internal error: OperationalError' (or OverflowError), or was taken as something else
    (a query of two vectors searched with the first)."""
    query = [0.1] * 384
    cases = [
        ("search", {"query": query, "filter": {"n": {"$in": list(range(40_000))}}}, "more than 900 values"),
        ("search", {"query": query, "filter": {f"k{i}": i for i in range(2000)}}, "2000 keys; at most 64"),
        ("search", {"query": query, "filter": {"n": 2**64}}, "filter 'n': 18446744073709551616 is beyond"),
        ("search", {"query": [query, query]}, "a query is one vector; this one holds 2"),
        ("add", {"ids": ["big"], "vectors": [query], "metadata": [{"n": 2**64}]}, r"metadata[0].n is 1844"),
    ]
    for route, body, message in cases:
        status, _, reply = server.request("POST", f"/v1/stores/notes/{route}", body, key=KEY)
        assert status == 400 and message in reply["error"]["message"], (route, reply)
    status, _, reply = server.request("POST", "/v1/stores/notes/get", {"ids": ["big"]}, key=KEY)
    assert reply["data"] == [None]


def test_a_store_locked_by_another_writer_gets_503_with_retry_after(server):
    """SQLite's 'database is locked' (another process writing past the busy timeout) came back as a 500."""
    import sqlite3

    holder = sqlite3.connect(server.log.parent / "notes.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        status, headers, reply = server.request(
            "POST", "/v1/stores/notes/add", {"ids": ["locked"], "vectors": [[0.1] * 384]}, key=KEY
        )
    finally:
        holder.rollback()
        holder.close()
    assert status == 503 and headers.get("retry-after") == "1" and reply["error"]["code"] == "store_busy", reply
    assert "store 'notes' (" in reply["error"]["message"] and "locked by another writer" in reply["error"]["message"]
