"""The integrations people already use, with the real packages: LangChain's Embeddings and LlamaIndex's BaseEmbedding
in process; the `ollama` client and LangChain's OllamaEmbeddings against `embedlite serve` on loopback; any model
name answered by the one served model; the request log.

All on the shipped default model (no conversion). The prompt tests use a copy of it whose manifest gives query and
document prompts, so that a prompt put in the wrong place changes the vectors.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil

import numpy as np
import pytest
from serve_process import ServeProcess

from embedlite import Embedder
from embedlite.models import DEFAULT_MODEL

TEXTS = [
    "The cat sat on the mat.",
    "A guitar has six strings.",
    "Rain is expected tomorrow in the north.",
    "Stock markets fell sharply on Monday.",
]
QUERY = "how many strings does a guitar have"


def importorskip(module: str, extra: str):
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install 'embedlite[{extra}]')")


@pytest.fixture(scope="module")
def default_embedder() -> Embedder:
    return Embedder(device="cpu")


@pytest.fixture(scope="module")
def prompted_model(tmp_path_factory):
    """The shipped model with a query and a document prompt in its manifest."""
    from embedlite.models import EMBEDDED

    path = tmp_path_factory.mktemp("prompted") / "model"
    shutil.copytree(EMBEDDED, path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.update(name="prompted-small", prompts={"query": "query: ", "document": "passage: "})
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


def cosines(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


async def ticks_while(coroutine) -> tuple[object, int]:
    """(the coroutine's result, how often another task ran meanwhile): 0 when it blocked the event loop."""
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        return await coroutine, ticks
    finally:
        ticker.cancel()


# ---- LangChain, in process


def test_langchain_documents_and_queries_take_their_own_prompts(prompted_model):
    importorskip("langchain_core", "langchain")
    from langchain_core.embeddings import Embeddings

    from embedlite.integrations.langchain import EmbedliteEmbeddings

    embeddings = EmbedliteEmbeddings(prompted_model, device="cpu")
    embedder = embeddings.embedder
    assert isinstance(embeddings, Embeddings)
    docs = np.array(embeddings.embed_documents(TEXTS))
    query = np.array(embeddings.embed_query(QUERY))
    assert docs.shape == (4, 384) and query.shape == (384,)
    assert cosines(docs, embedder.embed_documents(TEXTS)).min() > 1 - 1e-6
    assert cosines([query], [embedder.embed_query(QUERY)])[0] > 1 - 1e-6
    # the prompts are really applied: as a query, a document's vector differs, and so does the plain one
    assert cosines(docs, embedder.embed_query(TEXTS)).max() < 0.999
    assert cosines([query], [embedder.embed(QUERY)])[0] < 0.999


def test_langchain_dim_truncates_and_a_bad_dim_names_the_supported_ones(default_embedder):
    importorskip("langchain_core", "langchain")
    from embedlite.integrations.langchain import EmbedliteEmbeddings

    embeddings = EmbedliteEmbeddings(default_embedder, dim=128)
    docs = np.array(embeddings.embed_documents(TEXTS))
    assert docs.shape == (4, 128) and np.allclose(np.linalg.norm(docs, axis=1), 1, atol=1e-5)
    assert cosines(docs, default_embedder.embed_documents(TEXTS, dim=128)).min() > 1 - 1e-6
    assert len(embeddings.embed_query(QUERY)) == 128
    with pytest.raises(ValueError, match="supported dims: 384, 256, 128, 64"):
        EmbedliteEmbeddings(default_embedder, dim=100)
    with pytest.raises(TypeError, match="a list of documents"):
        embeddings.embed_documents("one string")  # type: ignore[arg-type]
    assert embeddings.embed_documents([]) == []


def test_langchain_vector_store_adds_searches_filters_replaces_and_deletes(default_embedder, tmp_path):
    importorskip("langchain_core", "langchain")
    from embedlite.integrations.langchain import EmbedliteEmbeddings, EmbedliteVectorStore
    from embedlite.store import VectorStore

    embeddings = EmbedliteEmbeddings(default_embedder, dim=256)
    notes = EmbedliteVectorStore.from_texts(
        TEXTS, embeddings, [{"n": i} for i in range(4)], ids=list("abcd"), path=tmp_path / "notes.db"
    )
    (doc, score), *_ = notes.similarity_search_with_score(QUERY, k=2)
    assert doc.id == "b" and doc.page_content == TEXTS[1] and doc.metadata == {"n": 1}
    assert score == pytest.approx(
        float(cosines([embeddings.embed_query(QUERY)], [embeddings.embed_documents([TEXTS[1]])[0]])[0]), abs=1e-5
    )
    assert [d.id for d in notes.similarity_search(QUERY, k=4, filter={"n": {"$gte": 2}})] in (["c", "d"], ["d", "c"])
    assert notes.as_retriever(search_kwargs={"k": 1}).invoke(QUERY)[0].id == "b"
    assert 0 <= notes.similarity_search_with_relevance_scores(QUERY, k=1)[0][1] <= 1
    assert notes.add_texts(["A violin has four strings."], ids=["b"]) == ["b"]  # the same id: replaced
    assert [d.page_content for d in notes.get_by_ids(["b", "zz"])] == ["A violin has four strings."]
    assert notes.delete(["a"]) and notes.get_by_ids(["a"]) == []
    with VectorStore(tmp_path / "notes.db", read_only=True) as store:  # the file is embedlite's own store
        assert store.count() == 3 and store.dim == 256
    with pytest.raises(ValueError, match="from_texts needs path="):
        EmbedliteVectorStore.from_texts(TEXTS, embeddings)


def test_langchain_async_runs_off_the_event_loop_and_matches_sync(default_embedder):
    importorskip("langchain_core", "langchain")
    from embedlite.integrations.langchain import EmbedliteEmbeddings

    embeddings = EmbedliteEmbeddings(default_embedder)
    texts = TEXTS * 64

    async def both():
        docs, ticks = await ticks_while(embeddings.aembed_documents(texts))
        query, _ = await ticks_while(embeddings.aembed_query(QUERY))
        together = await asyncio.gather(*(embeddings.aembed_query(t) for t in TEXTS))  # concurrent calls share it
        return docs, ticks, query, together

    docs, ticks, query, together = asyncio.run(both())
    assert ticks > 0, "aembed_documents blocked the event loop"
    assert cosines(docs, embeddings.embed_documents(texts)).min() > 1 - 1e-6
    assert cosines([query], [embeddings.embed_query(QUERY)])[0] > 1 - 1e-6
    assert cosines(together, [embeddings.embed_query(t) for t in TEXTS]).min() > 1 - 1e-6


def test_langchain_vector_store_finds_the_matching_text(default_embedder):
    importorskip("langchain_core", "langchain")
    from langchain_core.vectorstores import InMemoryVectorStore

    from embedlite.integrations.langchain import EmbedliteEmbeddings

    store = InMemoryVectorStore.from_texts(TEXTS, EmbedliteEmbeddings(default_embedder))
    assert [d.page_content for d in store.similarity_search(QUERY, k=1)] == [TEXTS[1]]


# ---- LlamaIndex, in process


def test_llamaindex_texts_and_queries_take_their_own_prompts(prompted_model):
    importorskip("llama_index.core", "llamaindex")
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from embedlite.integrations.llamaindex import EmbedliteEmbedding

    model = EmbedliteEmbedding(prompted_model, device="cpu", embed_batch_size=3)  # batches of 3, 1
    embedder = model.embedder
    assert isinstance(model, BaseEmbedding) and model.model_name == "prompted-small"
    docs = model.get_text_embedding_batch(TEXTS)
    assert cosines(docs, embedder.embed_documents(TEXTS)).min() > 1 - 1e-6
    assert cosines([model.get_text_embedding(TEXTS[0])], embedder.embed_documents(TEXTS[:1]))[0] > 1 - 1e-6
    query = model.get_query_embedding(QUERY)
    assert cosines([query], [embedder.embed_query(QUERY)])[0] > 1 - 1e-6
    assert cosines(docs, embedder.embed_query(TEXTS)).max() < 0.999

    async def run():
        docs, ticks = await ticks_while(model.aget_text_embedding_batch(TEXTS * 32))
        return docs, ticks, await model.aget_query_embedding(QUERY), await model.aget_text_embedding(TEXTS[0])

    adocs, ticks, aquery, adoc = asyncio.run(run())
    assert ticks > 0, "aget_text_embedding_batch blocked the event loop"
    assert cosines(adocs, docs * 32).min() > 1 - 1e-6
    assert cosines([aquery, adoc], [query, docs[0]]).min() > 1 - 1e-6


def test_llamaindex_index_retrieves_the_matching_node_at_a_truncated_dim(default_embedder):
    importorskip("llama_index.core", "llamaindex")
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import TextNode

    from embedlite.integrations.llamaindex import EmbedliteEmbedding

    model = EmbedliteEmbedding(default_embedder, dim=256)
    assert len(model.get_query_embedding(QUERY)) == 256
    index = VectorStoreIndex([TextNode(text=t) for t in TEXTS], embed_model=model)
    assert [n.node.get_content() for n in index.as_retriever(similarity_top_k=1).retrieve(QUERY)] == [TEXTS[1]]
    with pytest.raises(ValueError, match="supported dims"):
        EmbedliteEmbedding(default_embedder, dim=100)


# ---- the server: Ollama's clients, any model name, the request log


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    importorskip("starlette", "serve")
    work = tmp_path_factory.mktemp("serve")
    proc = ServeProcess(work, "--log-level", "info", "--workers", "2", "--store", f"notes={work / 'notes.db'}")
    yield proc
    assert proc.stop() in (0, -15), proc.log.read_text()


def test_ollama_client_embed_matches_the_embedder(server, default_embedder):
    ollama = importorskip("ollama", "test")
    client = ollama.Client(host=server.url)
    response = client.embed(model=DEFAULT_MODEL, input=TEXTS)
    assert response.model == DEFAULT_MODEL
    assert cosines(response.embeddings, default_embedder.embed(TEXTS)).min() > 1 - 1e-6
    assert response.prompt_eval_count == sum(len(ids) for ids in default_embedder.tokenize(TEXTS)[0])
    assert response.total_duration > 0
    one = client.embed(model="nomic-embed-text", input=TEXTS[0], dimensions=64)  # any name, Ollama's default
    assert len(one.embeddings) == 1 and len(one.embeddings[0]) == 64
    assert cosines(one.embeddings, default_embedder.embed(TEXTS[:1], dim=64))[0] > 1 - 1e-6
    old = client.embeddings(model=DEFAULT_MODEL, prompt=TEXTS[2])  # the older route
    assert cosines([old.embedding], default_embedder.embed(TEXTS[2:3]))[0] > 1 - 1e-6
    assert [m.model for m in client.list().models] == [DEFAULT_MODEL]


def test_ollama_client_errors_carry_the_message(server):
    ollama = importorskip("ollama", "test")
    client = ollama.Client(host=server.url)
    with pytest.raises(ollama.ResponseError, match="supported dims: 384, 256, 128, 64") as err:
        client.embed(model=DEFAULT_MODEL, input="x", dimensions=100)
    assert err.value.status_code == 400
    long = "word " * 400  # over the model's 256 tokens
    with pytest.raises(ollama.ResponseError, match="1 of 2 inputs are longer .* truncate is false"):
        client.embed(model=DEFAULT_MODEL, input=["short", long], truncate=False)
    assert len(client.embed(model=DEFAULT_MODEL, input=long).embeddings) == 1  # truncated, as Ollama does
    status, _, reply = server.request("POST", "/api/embed", {"model": "m", "input": []})
    assert status == 400 and reply == {"error": "input must be a string or a non-empty list of strings"}


def test_langchain_ollama_embeddings_work_unchanged(server, default_embedder):
    importorskip("langchain_ollama", "test")
    from langchain_ollama import OllamaEmbeddings

    embeddings = OllamaEmbeddings(model=DEFAULT_MODEL, base_url=server.url, validate_model_on_init=True)
    assert cosines(embeddings.embed_documents(TEXTS), default_embedder.embed(TEXTS)).min() > 1 - 1e-6
    assert cosines([asyncio.run(embeddings.aembed_query(QUERY))], [default_embedder.embed(QUERY)])[0] > 1 - 1e-6


def test_any_model_name_is_answered_by_the_served_model_and_logged_once(server, default_embedder):
    openai = importorskip("openai", "test")
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    for _ in range(2):
        response = client.embeddings.create(input=TEXTS, model="text-embedding-3-small", encoding_format="float")
        assert response.model == DEFAULT_MODEL
        assert cosines([d.embedding for d in response.data], default_embedder.embed(TEXTS)).min() > 1 - 1e-6
    models = client.models.list().data
    assert [(m.id, m.model_extra["aliases"]) for m in models] == [(DEFAULT_MODEL, ["*"])]
    with pytest.raises(openai.BadRequestError, match="model must be a string"):
        client.embeddings.create(input="x", model=7)  # type: ignore[arg-type]
    log = server.log.read_text()
    assert log.count(f"model 'text-embedding-3-small' requested: answered by '{DEFAULT_MODEL}'") == 1, log


def test_request_log_has_a_line_per_request_and_never_the_text(server):
    marker = "zebra-marker-4711 in a secret note"
    assert server.request("POST", "/v1/embeddings", {"input": [marker, "two", "three"]})[0] == 200
    assert server.request("POST", "/api/embed", {"model": "m", "input": marker})[0] == 200
    assert server.request("GET", "/no/such/route")[0] == 404
    assert server.request("POST", "/v1/embeddings", b"{not json")[0] == 400
    notes = {"ids": ["a", "b"], "texts": [marker, "two"]}
    assert server.request("POST", "/v1/stores/notes/upsert", notes)[0] == 200
    assert server.request("POST", "/v1/stores/notes/search", {"query": marker})[0] == 200
    assert server.request("POST", "/v1/stores/notes/search", {"query": "two", "mode": "keyword"})[0] == 200
    lines = server.log.read_text().splitlines()  # each line is written before its response's last bytes
    ms = r"\d+\.\d ms$"
    assert any(re.search(rf"embedlite\.server\.access: POST /v1/embeddings 200 texts=3 {ms}", ln) for ln in lines)
    assert any(re.search(rf"POST /api/embed 200 texts=1 {ms}", ln) for ln in lines)
    assert any(re.search(rf"GET /no/such/route 404 texts=- {ms}", ln) for ln in lines)
    assert any(re.search(rf"POST /v1/embeddings 400 texts=- {ms}", ln) for ln in lines)
    assert any(re.search(rf"POST /v1/stores/notes/upsert 200 texts=2 {ms}", ln) for ln in lines)
    assert any(re.search(rf"POST /v1/stores/notes/search 200 texts=1 {ms}", ln) for ln in lines)
    assert any(re.search(rf"POST /v1/stores/notes/search 200 texts=0 {ms}", ln) for ln in lines)
    assert "zebra-marker" not in "\n".join(lines)


def test_default_log_level_writes_no_request_lines(tmp_path):
    importorskip("starlette", "serve")
    proc = ServeProcess(tmp_path, "--workers", "1")
    try:
        assert proc.request("POST", "/v1/embeddings", {"input": "hello"})[0] == 200
    finally:
        assert proc.stop() in (0, -15)
    assert "POST /v1/embeddings" not in proc.log.read_text()
