"""Data parallelism under torchrun (gloo on CPU, nccl on GPU).

Every process draws the same global batches, embeds its share of each, and gathers the shares, so the losses
(in-batch negatives, pairwise geometry) see the whole batch exactly as one process would; gradients are summed
across processes. N processes therefore follow the single-process run, up to float noise. Only rank 0 writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Workers:
    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def share(self, idx: np.ndarray) -> np.ndarray:
        """This process's rows of a global batch."""
        return idx[self.rank :: self.size]

    def gathered_order(self, idx: np.ndarray) -> np.ndarray:
        """The global batch's rows in the order gather() returns them."""
        return np.concatenate([idx[r :: self.size] for r in range(self.size)])

    def gather(self, local: torch.Tensor, batch: int) -> torch.Tensor:
        """Every process's rows of a batch of `batch` rows, this process's own keeping their gradient."""
        if self.size == 1:
            return local
        import torch.distributed as dist

        sizes = [len(range(r, batch, self.size)) for r in range(self.size)]
        padded = torch.zeros((max(sizes), *local.shape[1:]), dtype=local.dtype)
        padded[: len(local)] = local.detach()
        chunks = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(chunks, padded)
        parts = [local if r == self.rank else chunk[:n] for r, (chunk, n) in enumerate(zip(chunks, sizes))]
        return torch.cat(parts)

    def sum_gradients(self, params: list[torch.Tensor]) -> None:
        """Each process holds the gradient through its own rows; their sum is the whole batch's."""
        if self.size == 1:
            return
        import torch.distributed as dist
        from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        for param, summed in zip(params, _unflatten_dense_tensors(flat, grads)):
            param.grad = summed

    def barrier(self) -> None:
        if self.size > 1:
            import torch.distributed as dist

            dist.barrier()


def from_environment() -> Workers:
    """The process group torchrun started this process in (WORLD_SIZE > 1), joined once; else one process."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return Workers()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return Workers(dist.get_rank(), dist.get_world_size())
