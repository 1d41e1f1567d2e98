"""Forward+backward+AdamW steps of the 308M EmbeddingGemma config (random weights): time, memory, throughput.

The loss is what a distillation step computes: cosine embedding matching to teacher vectors plus in-batch
InfoNCE (temperature 0.05); the teacher vectors here are random, since only the step cost is measured.
Usage: python benchmarks/train_step_308m.py [--device cpu|cuda] [--batch 2] [--seq 64] [--steps 3]
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import torch
import torch.nn.functional as F


def build(device: str):
    from bench_common import gemma_replica
    from transformers import Gemma3TextConfig, Gemma3TextModel

    replica = gemma_replica()
    SIZES, config_json = replica.SIZES, replica.config_json

    dense_dim = SIZES["308m"]["dense_dim"]
    encoder = Gemma3TextModel(Gemma3TextConfig.from_dict(config_json("308m")))
    head = torch.nn.Sequential(torch.nn.Linear(768, dense_dim, bias=False), torch.nn.Linear(dense_dim, 768, bias=False))
    return encoder.to(device), head.to(device)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()

    torch.manual_seed(0)
    encoder, head = build(args.device)
    params = sum(p.numel() for p in encoder.parameters()) + sum(p.numel() for p in head.parameters())
    opt = torch.optim.AdamW([*encoder.parameters(), *head.parameters()], lr=1e-5)
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    ids = torch.randint(1, 262144, (args.batch, args.seq), device=args.device)
    mask = torch.ones_like(ids)
    teacher = F.normalize(torch.randn(args.batch, 768, device=args.device), dim=-1)
    times = []
    for step in range(args.warmup + args.steps):
        if args.device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.autocast(args.device, dtype=dtype, enabled=args.device == "cuda"):
            tokens = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            pooled = (tokens * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            emb = F.normalize(head(pooled).float(), dim=-1)
        match = (1 - (emb * teacher).sum(-1)).mean()
        logits = emb @ teacher.T / 0.05
        nce = F.cross_entropy(logits, torch.arange(args.batch, device=args.device))
        (match + nce).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if args.device == "cuda":
            torch.cuda.synchronize()
        if step >= args.warmup:
            times.append(time.perf_counter() - t)
    step_s = sorted(times)[len(times) // 2]
    if args.device == "cuda":
        memory = f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB ({torch.cuda.get_device_name()})"
    else:
        memory = f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB"
    print(
        f"308M EmbeddingGemma config, {params / 1e6:.1f} M parameters, {args.device} ({platform.machine()}), "
        f"{'bf16 autocast' if args.device == 'cuda' else 'fp32'}, batch {args.batch} x {args.seq} tokens: "
        f"median step {step_s:.3f} s over {args.steps} steps, "
        f"{args.batch * args.seq / step_s:,.0f} tokens/s, {memory}"
    )


if __name__ == "__main__":
    main()
