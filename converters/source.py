"""Read a sentence-transformers model (local directory or hub id) into one exportable torch module."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from embedlite.errors import EmbedliteError, require

POOLING_MODES = ("mean", "cls", "max")


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
    st_model: object = field(repr=False)  # the SentenceTransformer, the parity reference
    graph: object = field(repr=False)  # EncoderGraph


def load_source(model: str | Path) -> SourceModel:
    """Load a sentence-transformers model: Transformer -> Pooling -> Dense* -> Normalize?."""
    require("torch", "export", "Exporting a model")
    st = require("sentence_transformers", "export", "Exporting a model")
    from .encoder_graph import EncoderGraph

    path = Path(model)
    if path.exists() and not (path / "modules.json").is_file():
        raise EmbedliteError(
            f"{path} is not a sentence-transformers directory: modules.json is missing"
        )
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
    graph = EncoderGraph(hf_model, mode, [(d.linear, d.activation_function) for d in denses], normalize)
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


def check_embeddinggemma_tokenizer(st_model, config, name: str) -> None:
    """EmbeddingGemma reads `<bos> text <eos>`, right-padded (its positions count from the first token): refuse a
    tokenizer that silently does otherwise, as a Gemma 3 tokenizer.json does with BOS only."""
    if not (config.model_type.startswith("gemma") and getattr(config, "use_bidirectional_attention", False)):
        return
    ids = st_model.tokenizer("a")["input_ids"]
    missing = [token for token, token_id, at in (("<bos>", config.bos_token_id, 0), ("<eos>", config.eos_token_id, -1))
               if ids[at] != token_id]
    if missing:
        raise EmbedliteError(
            f"{name}: the tokenizer does not add {' and '.join(missing)} (it gives {ids} for 'a'); EmbeddingGemma "
            "reads `<bos> text <eos>`: make the post_processor of tokenizer.json a TemplateProcessing "
            "`<bos> $A <eos>` (transformers ignores add_eos_token in tokenizer_config.json when tokenizer.json exists)")
    if st_model.tokenizer.padding_side != "right":
        raise EmbedliteError(f"{name}: the tokenizer pads on the {st_model.tokenizer.padding_side}; EmbeddingGemma "
                             "must be padded on the right: set padding_side to right in tokenizer_config.json")


def pooling_mode(pooling) -> str:
    config = pooling.get_config_dict()
    mode = config.get("pooling_mode")
    if mode is None:  # older configs spell it as flags
        flags = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token",
                 "max": "pooling_mode_max_tokens"}
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
