"""Where a student starts: layers of a stronger model, a random small config, or a causal Gemma 3 LM made
bidirectional."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
from torch import nn

from embedlite.converters.st_directory import save_sentence_transformer
from embedlite.errors import EmbedliteError


def from_teacher_layers(teacher, layers: tuple[int, ...]):
    """A copy of a sentence-transformers model that keeps only the encoder layers `layers` (all when empty)."""
    student = copy.deepcopy(teacher)
    encoder = student[0].auto_model
    stack_owner = encoder.encoder if hasattr(encoder, "encoder") else encoder  # BERT vs Gemma
    stack = stack_owner.layer if hasattr(stack_owner, "layer") else stack_owner.layers
    layers = layers or tuple(range(len(stack)))
    bad = [i for i in layers if not 0 <= i < len(stack)]
    if bad or len(set(layers)) != len(layers):
        raise EmbedliteError(
            f"student layers {list(layers)}: the teacher has layers 0..{len(stack) - 1}, each may be taken once"
        )
    kept = nn.ModuleList([stack[i] for i in layers])
    if hasattr(stack_owner, "layer"):
        stack_owner.layer = kept
    else:
        stack_owner.layers = kept
    config = encoder.config
    config.num_hidden_layers = len(layers)
    if getattr(config, "layer_types", None):
        config.layer_types = [config.layer_types[i] for i in layers]
    for new_index, layer in enumerate(kept):
        attention = getattr(layer, "self_attn", None)
        if attention is not None and hasattr(attention, "layer_idx"):
            attention.layer_idx = new_index
    return student


def matryoshka_axes(
    model, texts: list[str], dims: tuple[int, ...], neighbours: int = 5, steps: int = 1000, progress: bool = False
) -> np.ndarray:
    """Orthonormal axes, one per row, for `model`'s embeddings, in which every prefix of `dims` keeps the cosines
    between each of `texts` and its nearest neighbours: the principal axes (strongest first), then turned to fit
    those cosines. Full-dim cosines do not depend on the axes."""
    import torch
    from torch.nn import functional
    from torch.nn.utils import parametrize
    from torch.nn.utils.parametrizations import orthogonal
    from tqdm.auto import tqdm

    from .mining import mine_neighbours

    # sentence-transformers' bar is plain tqdm (on whatever stderr is); embedlite's bars show only on a terminal
    bar = progress and sys.stderr.isatty()
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=bar)
    centred = (vectors - vectors.mean(axis=0)).astype(np.float64)
    principal = np.linalg.eigh(centred.T @ centred)[1][:, ::-1].T  # all dims, also from fewer texts than dims
    x = torch.from_numpy((vectors @ principal.T).astype(np.float32))
    near = mine_neighbours(x.numpy(), neighbours, duplicate_cosine=1.0)
    first, second = np.nonzero(near >= 0)[0], near[near >= 0]
    a, b = x[first], x[second]
    full = (a * b).sum(dim=1)
    turn = orthogonal(nn.Linear(x.shape[1], x.shape[1], bias=False))
    turn.weight = torch.eye(x.shape[1])  # starts at the principal axes
    optimizer = torch.optim.Adam(turn.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    prefixes = [d for d in dims if d < x.shape[1]]
    for _ in tqdm(
        range(steps if prefixes and len(full) else 0), desc="matryoshka axes", disable=None if progress else True
    ):
        pick = torch.randint(0, len(full), (4096,), generator=generator)
        with parametrize.cached():
            ta, tb = a[pick] @ turn.weight.T, b[pick] @ turn.weight.T
            loss = sum(
                (
                    (functional.normalize(ta[:, :d], dim=1) * functional.normalize(tb[:, :d], dim=1)).sum(dim=1)
                    - full[pick]
                )
                .square()
                .mean()
                for d in prefixes
            )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (turn.weight.detach().numpy().astype(np.float64) @ principal).astype(np.float32)


def language_directions(model, texts_by_language: list[list[str]]) -> np.ndarray:
    """Orthonormal rows spanning the directions in which the mean embeddings of `texts_by_language` (one list per
    language) differ: at most one fewer than the languages. What an embedding says about its language alone."""
    means = np.stack(
        [model.encode(texts, batch_size=64, normalize_embeddings=True).mean(axis=0) for texts in texts_by_language]
    ).astype(np.float64)
    _, strengths, rows = np.linalg.svd(means - means.mean(axis=0), full_matrices=False)
    return rows[strengths > 1e-6 * strengths.max()].astype(np.float32)


def neutralise_languages(model, sources):
    """`model` (changed in place) with the directions its embeddings of each source's texts (one language per
    source: TextSources, as a recipe's language_neutral) differ in on average projected out."""
    from .data import load_texts

    return project_out(model, language_directions(model, [load_texts((source,)) for source in sources]))


def project_out(model, directions: np.ndarray):
    """`model` (changed in place) with its embeddings projected onto the complement of the orthonormal rows
    `directions` before its normalisation: nothing along them is left."""
    return rotate_output(model, np.eye(directions.shape[1], dtype=np.float32) - directions.T @ directions)


def rotate_output(model, axes: np.ndarray):
    """`model` (changed in place) with its embeddings turned onto the orthonormal `axes` before its normalisation:
    full-dim cosines stay as they were, and every prefix keeps the strongest directions."""
    import torch

    layer = output_layer(model)
    with torch.no_grad():
        turn = torch.from_numpy(np.asarray(axes, dtype=np.float32))
        layer.linear.weight.copy_(turn @ layer.linear.weight)
        layer.linear.bias.copy_(turn @ layer.linear.bias)
    return model


def centre_output(model, texts: list[str]):
    """`model` (changed in place) with the mean of its embeddings of `texts` (before its normalisation) taken off
    every embedding: the direction all texts share, which raises every cosine alike."""
    import torch

    layer = output_layer(model)
    outputs: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda _m, _i, out: outputs.append(out["sentence_embedding"].detach()))
    try:
        model.encode(texts, batch_size=64)
    finally:
        hook.remove()
    with torch.no_grad():
        layer.linear.bias.sub_(torch.cat(outputs).double().mean(dim=0).float())
    return model


def output_layer(model):
    """The fixed affine layer (x -> Wx + b) just before `model`'s normalisation, which rotate_output, project_out
    and centre_output compose into: inserted as the identity where there is none. It stays fixed in training."""
    import torch
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize

    modules = list(model)
    at = next((i for i, m in enumerate(modules) if isinstance(m, Normalize)), len(modules))
    before = modules[at - 1]
    if isinstance(before, Dense) and before.linear.bias is not None and not before.linear.weight.requires_grad:
        return before
    dim = model.get_embedding_dimension()
    layer = Dense(dim, dim, bias=True, activation_function=nn.Identity())
    with torch.no_grad():
        layer.linear.weight.copy_(torch.eye(dim))
        layer.linear.bias.zero_()
    layer.requires_grad_(False)
    model.insert(at, layer)
    return layer


def random_bert(
    tokenizer_dir: Path,
    out: Path,
    pooling: str = "mean",
    dense_dim: int | None = None,
    normalize: bool = True,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    max_seq_length: int = 64,
) -> Path:
    """A small random BERT with `tokenizer_dir`'s tokenizer, saved as a sentence-transformers directory."""
    import torch
    from sentence_transformers import models
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 16),
        intermediate_size=hidden * 2,
        max_position_embeddings=max(128, max_seq_length),
    )
    dense = (models.Dense(hidden, dense_dim, activation_function=torch.nn.Tanh()),) if dense_dim else ()
    return save_sentence_transformer(
        BertModel(config),
        tokenizer_dir,
        out,
        max_seq_length=max_seq_length,
        pooling=pooling,
        after_pooling=dense,
        normalize=normalize,
    )


def decoder_to_encoder(lm_dir: Path, out: Path, max_seq_length: int = 512) -> Path:
    """Copy a causal Gemma 3 LM's weights into a bidirectional Gemma3TextModel (mean pooling, normalised)."""
    from transformers import AutoModelForCausalLM, Gemma3TextConfig, Gemma3TextModel

    lm = AutoModelForCausalLM.from_pretrained(str(lm_dir))
    text_config = getattr(lm.config, "text_config", lm.config)
    if not text_config.model_type.startswith("gemma3"):
        raise EmbedliteError(f"{lm_dir} is a {text_config.model_type} model; the decoder init expects Gemma 3")
    config = Gemma3TextConfig(**{**text_config.to_dict(), "use_bidirectional_attention": True})
    encoder = Gemma3TextModel(config)
    weights = {
        k.removeprefix("model.").removeprefix("language_model."): v
        for k, v in lm.state_dict().items()
        if not k.startswith("lm_head")
    }
    missing, unexpected = encoder.load_state_dict(weights, strict=False)
    if missing:
        raise EmbedliteError(f"{lm_dir}: the LM lacks encoder weights {missing[:5]}")
    return save_sentence_transformer(encoder, lm_dir, out, max_seq_length=max_seq_length)
