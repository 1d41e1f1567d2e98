"""The distillation loop: a student learns the teacher's embeddings and their geometry at every Matryoshka dim."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np

from embedlite.errors import EmbedliteError

from .config import DistillConfig


def build_student(config: DistillConfig):
    from sentence_transformers import SentenceTransformer

    from . import student

    if config.student == "layers":
        if config.teacher is None:
            raise EmbedliteError("student 'layers' copies teacher layers: give a teacher model directory")
        return student.from_teacher_layers(SentenceTransformer(str(config.teacher), device="cpu"),
                                           config.student_layers)
    work = Path(config.output).parent / f".{Path(config.output).name}-init"
    if config.student == "random":
        tokenizer_dir = config.teacher or config.student_source
        if tokenizer_dir is None:
            raise EmbedliteError("a random student takes its tokenizer from the teacher or student_source")
        path = student.random_bert(tokenizer_dir, work, seed=config.seed, max_seq_length=config.max_seq_length)
    else:
        path = student.decoder_to_encoder(config.student_source, work, config.max_seq_length)
    model = SentenceTransformer(str(path), device="cpu")
    shutil.rmtree(path)  # loaded into memory; the trained student is saved at config.output
    return model


def distill(config: DistillConfig, progress: bool = True) -> Path:
    """Train a student per `config` and save it as a sentence-transformers directory at config.output."""
    import torch
    from tqdm.auto import tqdm

    from . import losses, qat
    from .data import load_texts
    from .teacher import teacher_embeddings

    config.validate()
    output = Path(config.output)
    if output.exists() and any(output.iterdir()):
        raise EmbedliteError(f"{output} exists and is not empty")
    texts = load_texts(config.train_texts, config.max_texts)
    targets = teacher_embeddings(texts, config.teacher, config.teacher_embeddings, config.cache_dir)
    torch.manual_seed(config.seed)
    model = build_student(config)
    model.max_seq_length = config.max_seq_length
    student_dim = (getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)()
    dims = config.matryoshka_dims or (student_dim,)
    if dims[0] > student_dim:
        raise EmbedliteError(f"matryoshka_dims start at {dims[0]}, above the student's dim {student_dim}")
    # A learned projection lets a narrower student match a wider teacher; it is not part of the output.
    projection = (torch.nn.Linear(student_dim, targets.shape[1], bias=False)
                  if student_dim != targets.shape[1] else torch.nn.Identity())
    params = [*model.parameters(), *projection.parameters()]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate)
    steps_per_epoch = math.ceil(len(texts) / config.batch_size)
    total = config.epochs * steps_per_epoch
    warmup = max(1, total // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    qat_start = int(total * (1 - config.qat_fraction)) if config.qat_bits else None
    rng = np.random.default_rng(config.seed)
    history, step = [], 0
    model.train()
    bar = tqdm(total=total, desc="distilling", unit="step", disable=not progress)
    for _ in range(config.epochs):
        order = rng.permutation(len(texts))
        for start in range(0, len(order), config.batch_size):
            idx = order[start:start + config.batch_size]
            if len(idx) < 2:
                continue
            if step == qat_start:
                qat.enable(model, config.qat_bits)
            features = model.tokenize([config.prompt + texts[i] for i in idx])
            embeddings = model(features)["sentence_embedding"]
            teacher = torch.from_numpy(targets[idx])
            full = projection(embeddings)
            parts = {
                "match": losses.embedding_matching(full, teacher),
                "nce": config.nce_weight * losses.info_nce(full, teacher, config.temperature,
                                                           config.same_tower_negatives),
            }
            for d in dims:  # Matryoshka: every prefix must keep the teacher's geometry on its own
                parts[f"geo@{d}"] = losses.similarity_matching(embeddings[:, :d], teacher)
                parts[f"spread@{d}"] = config.spread_out_weight * losses.spread_out(embeddings[:, :d])
            loss = sum(parts.values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            history.append({k: round(float(v.detach()), 5) for k, v in parts.items()})
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
    bar.close()
    if config.qat_bits:
        qat.disable(model)
    model.eval()
    model.save(str(output))
    record = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(config).items()}
    record["train_texts"] = [str(p) for p in config.train_texts]
    (output / "distill.json").write_text(json.dumps({"config": record, "texts": len(texts), "steps": step,
                                                     "first_losses": history[:1], "last_losses": history[-1:]},
                                                    indent=2, default=str) + "\n")
    return output
