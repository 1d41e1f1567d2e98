"""Read a sentence-transformers model (local directory or hub id) into one exportable torch module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedlite.artifact import read_manifest
from embedlite.errors import EmbedliteError
from embedlite.files.staging import staging_folder
from embedlite.models import RECIPES, SAME_WEIGHTS, SHIPPED, built_artifact, home, is_known, source_dir
from embedlite.models.sources import SOURCES, fetch

from .quiet import quiet, require_sentence_transformers

POOLING_MODES = ("mean", "cls", "max")
ARTIFACT_OUTPUT = "sentence_embedding"  # the output an embedlite ONNX artifact's graph names its vectors


@dataclass(frozen=True)
class SourceModel:
    """A loaded encoder plus what the manifest needs to say about it."""

    name: str
    architecture: str
    pooling: str
    normalize: bool
    dim: int
    max_seq_length: int
    prompts: dict[str, str]
    default_task: str | None
    st_model: Any = field(repr=False)  # the SentenceTransformer, the parity reference
    graph: Any = field(repr=False)  # EncoderGraph


def known_source(name: str) -> Path:
    """A model known by name as a sentence-transformers directory: a source model (embedlite.models.sources), one that
    ships as ONNX only or packed (E5S1) rebuilt once from its weights, or a shipped artifact or a recipe's built one
    rebuilt once from its dequantized weights (each checked against its ONNX file)."""
    if name in SHIPPED:
        return artifact_source(name, SHIPPED[SAME_WEIGHTS.get(name, name)])
    if name in RECIPES:
        return artifact_source(name, built_artifact(name))  # not built: the error says how to build it
    source = SOURCES[name]
    if source.kind == "zip":
        return source_dir(name)
    if source.kind == "e5s1":
        from .e5s1 import st_from_e5s1

        fetched = fetch(name, home() / "sources")
        return built_once(
            home() / "sources" / f"{name}-st",
            lambda staging: st_from_e5s1(
                fetched / source.model_file, fetched / "tokenizer.json", staging, prompts=source.prompts
            ),
        )
    from .onnx_import import bert_from_onnx

    return built_once(
        home() / "sources" / f"{name}-st",
        lambda staging: bert_from_onnx(
            fetch(name, home() / "sources") / "model.onnx",
            known_source(source.encoder["tokenizer_from"]),
            staging,
            num_attention_heads=source.encoder["num_attention_heads"],
            max_seq_length=source.encoder["max_seq_length"],
            output=source.encoder["output"],
        ),
    )


def artifact_source(name: str, artifact: Path) -> Path:
    """An artifact known by name (shipped, or a recipe's built one) as a sentence-transformers directory, rebuilt once
    into the user cache; the folder is named by the model file's sha256, so new weights under the same name (a new
    embedlite's, a recipe built again) are rebuilt."""
    manifest = read_manifest(artifact)  # checks the sha256 of each file
    model_file = artifact / manifest.model_file
    if manifest.format != "onnx" or manifest.architecture != "bert":
        raise EmbedliteError(
            f"{name}: only an ONNX BERT artifact can be rebuilt as an export source "
            f"(this one is {manifest.format} {manifest.architecture})"
        )
    from .onnx_import import bert_from_onnx

    target = home() / "sources" / f"{name}-st-{manifest.files[manifest.model_file]['sha256'][:12]}"
    return built_once(
        target,
        lambda staging: bert_from_onnx(
            model_file,
            artifact,
            staging,
            max_seq_length=manifest.max_seq_length,
            output=ARTIFACT_OUTPUT,
            pooling=manifest.pooling,
            normalize=manifest.normalize,
            prompts=manifest.prompts or None,
        ),
    )


def built_once(target: Path, build: Callable[[Path], object]) -> Path:
    """`target` (a sentence-transformers directory), built by build(staging) where it is missing, then moved into
    place: an interrupted or failed build leaves nothing at `target`, and a killed one's staging folder is removed
    by the next build (embedlite.files.staging)."""
    if (target / "modules.json").is_file():
        return target
    with staging_folder(target.parent, f".{target.name}-build-", "a model build") as staging:
        built = staging / target.name  # the build's own scratch (a transformers folder) stays in the staging too
        with quiet():  # transformers' load report (an unused pooler "MISSING") and progress bars
            build(built)
        if not (target / "modules.json").is_file():  # else another process built it meanwhile
            built.rename(target)
    return target


def load_source(model: str | Path, output_dim: int | None = None) -> SourceModel:
    """Load a sentence-transformers model (a directory, a hub id or a known source name):
    Transformer -> Pooling -> Dense* -> Normalize?; output_dim slices (and re-normalises) inside the graph."""
    st = require_sentence_transformers("export", "Exporting a model")
    from .encoder_graph import EncoderGraph

    if is_known(str(model)):
        model = known_source(str(model))
    path = Path(model)
    if not path.exists():
        check_hub_reachable(str(model))
    if path.exists() and not (path / "modules.json").is_file():
        raise EmbedliteError(f"{path} is not a sentence-transformers directory: modules.json is missing")
    try:
        st_model = st.SentenceTransformer(str(model), device="cpu")
    except OSError as exc:
        raise EmbedliteError(f"could not load model {model!r}: {exc}") from None
    st_model.eval()

    transformer, pooling, denses, normalize = None, None, [], False
    for module in st_model:
        kind = type(module).__name__
        if kind == "Transformer":
            transformer = module
        elif kind == "Pooling":
            pooling = module
        elif kind == "Dense":
            denses.append(module)
        elif kind == "Normalize":
            normalize = True
        else:
            raise EmbedliteError(f"{model}: module {kind} is not supported by the exporter")
    if transformer is None or pooling is None:
        raise EmbedliteError(f"{model}: needs a Transformer and a Pooling module")

    mode = pooling_mode(pooling)
    hf_model = transformer.auto_model
    check_embeddinggemma_tokenizer(st_model, hf_model.config, str(model))
    # Plain matmul/softmax attention exports to a graph onnxruntime and LiteRT run faster than SDPA's.
    hf_model.set_attn_implementation("eager")
    config = hf_model.config
    graph = EncoderGraph(hf_model, mode, [(d.linear, d.activation_function) for d in denses], normalize, output_dim)
    prompts = {k: v for k, v in (st_model.prompts or {}).items() if v}
    dim = denses[-1].linear.out_features if denses else pooling_dim(pooling)
    return SourceModel(
        name=path.name if path.exists() else str(model).split("/")[-1],
        architecture=config.model_type,
        pooling=mode,
        normalize=normalize,
        dim=int(dim),
        max_seq_length=int(st_model.max_seq_length),
        prompts=prompts,
        default_task=st_model.default_prompt_name if st_model.default_prompt_name in prompts else None,
        st_model=st_model,
        graph=graph,
    )


def check_hub_reachable(model_id: str, timeout: float = 3.0) -> None:
    """Fail at once, with one line, where a hub model is not cached and cannot be downloaded (offline, or the hub
    unreachable), instead of the hub client's minute of retries."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(model_id, "modules.json"), str):
        return  # in the local cache: sentence-transformers loads it without the network
    if constants.HF_HUB_OFFLINE:
        raise EmbedliteError(
            f"{model_id} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set: "
            "give a local directory, or download it once with network access"
        )
    endpoint = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection(
            (endpoint.hostname, endpoint.port or (443 if endpoint.scheme == "https" else 80)), timeout=timeout
        ).close()
    except OSError as exc:
        raise EmbedliteError(
            f"{model_id} is not in the local Hugging Face cache and {constants.ENDPOINT} cannot "
            f"be reached ({exc}): give a local directory, or connect and retry"
        ) from None


def check_embeddinggemma_tokenizer(st_model, config, name: str) -> None:
    """EmbeddingGemma reads `<bos> text <eos>`, right-padded (its positions count from the first token): refuse a
    tokenizer that silently does otherwise, as a Gemma 3 tokenizer.json does with BOS only."""
    if not (config.model_type.startswith("gemma") and getattr(config, "use_bidirectional_attention", False)):
        return
    ids = st_model.tokenizer("a")["input_ids"]
    missing = [
        token
        for token, token_id, at in (("<bos>", config.bos_token_id, 0), ("<eos>", config.eos_token_id, -1))
        if ids[at] != token_id
    ]
    if missing:
        raise EmbedliteError(
            f"{name}: the tokenizer does not add {' and '.join(missing)} (it gives {ids} for 'a'); EmbeddingGemma "
            "reads `<bos> text <eos>`: make the post_processor of tokenizer.json a TemplateProcessing "
            "`<bos> $A <eos>` (transformers ignores add_eos_token in tokenizer_config.json when tokenizer.json exists)"
        )
    if st_model.tokenizer.padding_side != "right":
        raise EmbedliteError(
            f"{name}: the tokenizer pads on the {st_model.tokenizer.padding_side}; EmbeddingGemma "
            "must be padded on the right: set padding_side to right in tokenizer_config.json"
        )


def pooling_mode(pooling) -> str:
    config = pooling.get_config_dict()
    mode = config.get("pooling_mode")
    if mode is None:  # older configs spell it as flags
        flags = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token", "max": "pooling_mode_max_tokens"}
        chosen = [m for m, key in flags.items() if config.get(key)]
        mode = chosen[0] if len(chosen) == 1 else "+".join(chosen)
    if mode not in POOLING_MODES:
        raise EmbedliteError(f"pooling {mode!r} is not supported; supported: {', '.join(POOLING_MODES)}")
    if not config.get("include_prompt", True):
        raise EmbedliteError("pooling with include_prompt=False is not supported by the exporter")
    return mode


def pooling_dim(pooling) -> int:
    getter = getattr(pooling, "get_embedding_dimension", None) or pooling.get_sentence_embedding_dimension
    return getter()
