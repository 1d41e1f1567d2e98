import numpy as np
import pytest

import embedlite
from embedlite import Embedder


def test_the_package_namespace_is_the_public_api():
    """dir(embedlite) listed `annotations`, `TYPE_CHECKING` and `package_version` beside the API."""
    public = {n for n in dir(embedlite) if not n.startswith("_")}
    assert set(embedlite.__all__) - {"__version__"} <= public
    assert not public & {"annotations", "TYPE_CHECKING", "package_version", "Path", "Callable"}


def test_embed_shape_dtype_norm(embedder):
    vecs = embedder.embed(["The cat sits outside", "A man is playing guitar"], dim=256)
    assert vecs.shape == (2, 256) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_module_level_embed_uses_default_model(minilm_artifact):
    vecs = embedlite.embed(["The cat sits outside"], dim=128)
    assert vecs.shape == (1, 128)


def test_similar_texts_score_higher(embedder):
    a, b, c = embedder.embed(
        ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell today."]
    )
    assert a @ b > a @ c + 0.2


def test_matryoshka_truncation_is_prefix_renormalised(embedder):
    full = embedder.embed(["a sentence to truncate"])[0]
    short = embedder.embed(["a sentence to truncate"], dim=64)[0]
    np.testing.assert_allclose(short, full[:64] / np.linalg.norm(full[:64]), atol=1e-6)


def test_batching_and_sorting_keep_order(embedder):
    texts = ["short", "a much longer sentence with many more words than the others in the list", "mid length text"]
    batched = embedder.embed(texts, batch_size=2)
    one_by_one = np.stack([embedder.embed([t])[0] for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_single_string_gives_vector(embedder):
    assert embedder.embed("hello").shape == (384,)


def test_empty_list_and_empty_string(embedder):
    assert embedder.embed([]).shape == (0, 384)
    assert embedder.embed([], dim=128).shape == (0, 128)
    v = embedder.embed([""])
    assert v.shape == (1, 384) and np.isfinite(v).all()


@pytest.mark.parametrize("bad, index", [(["ok", None], 1), ([3], 0), (["a", "b", b"bytes"], 2)])
def test_non_string_names_the_index(embedder, bad, index):
    with pytest.raises(TypeError, match=rf"texts\[{index}\]"):
        embedder.embed(bad)


def test_none_instead_of_list(embedder):
    with pytest.raises(TypeError, match="texts must be"):
        embedder.embed(None)


def test_unsupported_dim_lists_supported(embedder):
    with pytest.raises(ValueError, match="supported dims: 384, 256, 128, 64"):
        embedder.embed(["x"], dim=100)
    with pytest.raises(ValueError, match="supported dims"):
        Embedder(embedder.path, dim=7)


def test_unknown_task(embedder):
    with pytest.raises(ValueError, match="no task prompts"):
        embedder.embed(["x"], task="query")


def test_queries_and_documents_without_prompts(embedder):
    """all-MiniLM-L6-v2 has no prompts: queries embed as plain texts, a title goes before its document."""
    texts = ["a man plays guitar", "a cat sleeps"]
    assert embedder.query_prompt == embedder.document_prompt == ""
    np.testing.assert_allclose(embedder.embed_query(texts), embedder.embed(texts), atol=1e-5)
    np.testing.assert_allclose(
        embedder.embed_documents(texts, titles=["Music", None]),
        embedder.embed(["Music a man plays guitar", "a cat sleeps"]),
        atol=1e-5,
    )
    assert embedder.embed_query("one text", dim=64).shape == (64,)
    assert embedder.embed_documents("one text", titles="A title").shape == (384,)


@pytest.mark.parametrize(
    "titles, error, match",
    [
        (["x"], ValueError, "1 titles for 2 texts"),
        (["x", 3], TypeError, r"titles\[1\] is int"),
        ("xy", TypeError, "titles must be a sequence"),
    ],
)
def test_bad_titles_are_named(embedder, titles, error, match):
    with pytest.raises(error, match=match):
        embedder.embed_documents(["a", "b"], titles=titles)


def test_long_text_truncated_with_warning(embedder):
    huge = "word " * 5000
    with pytest.warns(UserWarning, match="1 of 2 texts were longer than 256 tokens"):
        v = embedder.embed([huge, "short"])
    assert np.isfinite(v).all()


def test_unknown_device_is_clear(minilm_artifact):
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        Embedder(minilm_artifact, device="tpu")


def test_missing_provider_is_clear(minilm_artifact):
    import onnxruntime

    if "DmlExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("DirectML present")
    with pytest.raises(embedlite.EmbedliteError, match="onnxruntime-directml"):
        Embedder(minilm_artifact, device="directml")


def test_auto_device_says_which(minilm_artifact):
    e = Embedder(minilm_artifact, device="auto")
    assert e.device in {"cpu", "cuda", "coreml", "directml"}
    assert e.device in repr(e)


def test_lone_surrogate_is_named(embedder):
    with pytest.raises(ValueError, match=r"texts\[1\] is not valid Unicode: it holds the lone surrogate"):
        embedder.embed(["fine", "bad \ud800 text"])


def test_hub_id_offline_fails_at_once(monkeypatch):
    """No minute of retries: a hub id that is not cached fails in one line when offline or unreachable."""
    from huggingface_hub import constants

    from embedlite import EmbedliteError

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(EmbedliteError, match="not in the local Hugging Face cache and HF_HUB_OFFLINE is set"):
        Embedder("embedlite-test/no-such-model")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # loopback, nothing listens
    with pytest.raises(EmbedliteError, match="http://127.0.0.1:9 cannot be reached"):
        Embedder("embedlite-test/no-such-model")


@pytest.fixture(scope="module")
def sts_texts(data_dir):
    from embedlite.files.records import distinct_texts, read_texts

    return distinct_texts(read_texts(data_dir / "stsb" / "sts-dev.csv"))[:400]


def test_vectors_do_not_depend_on_batching(embedder, sts_texts):
    """Batches hold texts of one run length, each padded to it in every call, so a text's vector is the same bits
    whatever shares its batch (texts of several token lengths share each bucket here)."""
    whole = embedder.embed(sts_texts)
    assert np.array_equal(whole, embedder.embed(sts_texts, batch_size=5))
    assert np.array_equal(whole[::-1], embedder.embed(sts_texts[::-1], batch_size=64))
    assert np.array_equal(whole[:3], embedder.embed(sts_texts[:3]))


def test_run_lengths_are_buckets_of_the_token_length_capped_at_the_longest(embedder, sts_texts):
    from embedlite.runtimes.onnx import bucket_length

    assert [bucket_length(n) for n in (1, 8, 9, 10, 11, 16, 17, 33, 100, 129, 2047)] == [
        1, 8, 10, 10, 12, 16, 20, 40, 112, 160, 2048,
    ]  # fmt: skip
    longest = embedder.manifest.max_seq_length
    assert all(n <= embedder.run_length(n) <= min(max(n, bucket_length(n)), longest) for n in range(1, longest + 1))
    assert embedder.run_length(longest) == longest
    ids, _ = embedder.tokenize(sts_texts)
    runs = {embedder.run_length(len(row)) for row in ids}
    assert len(runs) < 0.6 * len({len(row) for row in ids})  # fewer, fuller runtime calls


def test_embed_stream_gives_embed_vectors_window_by_window(embedder, sts_texts):
    consumed = []

    def texts():
        for text in sts_texts:
            consumed.append(text)
            yield text

    chunks = []
    for start, vectors in embedder.embed_stream(texts(), dim=128, window=150):
        assert len(consumed) <= start + 150  # reads one window ahead at most: memory flat in the corpus size
        chunks.append((start, vectors))
    assert [(s, len(v)) for s, v in chunks] == [(0, 150), (150, 150), (300, 100)]
    assert np.array_equal(np.concatenate([v for _, v in chunks]), embedder.embed(sts_texts, dim=128))
    lone = next(embedder.embed_stream(iter(sts_texts[7:8])))[1]  # a window of one runs as in a batch
    assert np.array_equal(lone[0], embedder.embed(sts_texts)[7])


def test_embed_stream_bad_input(embedder):
    assert list(embedder.embed_stream([])) == []
    with pytest.raises(TypeError, match="iterable of strings, got str"):
        embedder.embed_stream("one text")
    with pytest.raises(ValueError, match="window must be a positive integer"):
        embedder.embed_stream(["x"], window=0)
    with pytest.raises(ValueError, match="supported dims"):
        embedder.embed_stream(["x"], dim=100)
    stream = embedder.embed_stream(iter(["a", "b", "c", 4]), window=2)
    assert next(stream)[0] == 0
    with pytest.raises(TypeError, match=r"texts\[3\] is int"):
        next(stream)
    with pytest.warns(UserWarning, match="1 of 3 texts were longer than 256 tokens"):
        list(embedder.embed_stream(["word " * 400, "x", "y"], window=2))
