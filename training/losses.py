"""The distillation losses; each takes (batch, dim) tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def embedding_matching(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean (1 - cosine) between each student embedding and its teacher embedding."""
    return (1 - F.cosine_similarity(student, teacher, dim=-1)).mean()


def similarity_matching(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Geometric distillation: the student's pairwise cosine matrix should equal the teacher's."""
    s, t = F.normalize(student, dim=-1), F.normalize(teacher, dim=-1)
    return F.mse_loss(s @ s.T, t @ t.T)


def similarity_correlation(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Geometric distillation up to an affine map: 1 - Pearson r between the student's and the teacher's
    pairwise cosines (off the diagonal). A teacher whose cosines sit in a narrow, shifted band (EmbeddingGemma's
    between unrelated STS-B sentences: mean 0.48, std 0.09; all-MiniLM-L6-v2's: 0.09, 0.15) passes on its order
    and relative distances without pulling the student's scale there against the spread-out regulariser."""
    s, t = F.normalize(student, dim=-1), F.normalize(teacher, dim=-1)
    off = ~torch.eye(len(s), dtype=torch.bool, device=s.device)
    a, b = (s @ s.T)[off], (t @ t.T)[off]
    a, b = a - a.mean(), b - b.mean()
    return 1 - (a * b).sum() / (a.norm() * b.norm() + 1e-12)


def neighbour_distribution(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """Geometric distillation of each text's neighbours: every row's distribution over the other texts of the
    batch (softmax of its cosines) should be the teacher's (KL divergence). Cosines are z-scored over the batch
    first, so the teacher's scale and offset do not count (as for similarity_correlation), and `temperature` (in
    standard deviations) weights a row's nearest texts: unrelated pairs, most of a batch, barely count."""

    def logits(x: torch.Tensor) -> torch.Tensor:
        x = F.normalize(x, dim=-1)
        cos = x @ x.T
        eye = torch.eye(len(x), dtype=torch.bool, device=x.device)
        off = cos[~eye]
        z = (cos - off.mean()) / (off.std() + 1e-6)
        return (z / temperature).masked_fill(eye, float("-inf"))

    target = F.softmax(logits(teacher), dim=-1)
    log_student = F.log_softmax(logits(student), dim=-1)
    keep = target > 0
    return (target[keep] * (target[keep].log() - log_student[keep])).sum() / len(student)


def info_nce(
    student: torch.Tensor, teacher: torch.Tensor, temperature: float, same_tower: bool = False, margin: float = 0.0
) -> torch.Tensor:
    """Each student embedding must pick its own teacher embedding among the batch's (in-batch negatives);
    with same_tower, the other student embeddings are negatives too (SamToNe); with a margin, its own counts
    `margin` of cosine less (additive margin softmax)."""
    s, t = F.normalize(student, dim=-1), F.normalize(teacher, dim=-1)
    cos = s @ t.T
    if margin:
        cos = cos - margin * torch.eye(len(s), dtype=cos.dtype, device=cos.device)
    logits = cos / temperature
    if same_tower:
        own = s @ s.T / temperature
        own = own.masked_fill(torch.eye(len(s), dtype=torch.bool, device=s.device), float("-inf"))
        logits = torch.cat([logits, own], dim=1)
    return F.cross_entropy(logits, torch.arange(len(s), device=s.device))


def pair_ranking(
    first: torch.Tensor, second: torch.Tensor, teacher_cosines: torch.Tensor, scale: float = 20.0
) -> torch.Tensor:
    """Ranking distillation (CoSENT with the teacher's cosines as the order): every two pairs the teacher ranks
    one way, the student should too; only the order counts, not the teacher's cosine scale."""
    cos = F.cosine_similarity(first, second, dim=-1)
    above = teacher_cosines[:, None] > teacher_cosines[None, :]  # [i, j]: the teacher puts pair i above pair j
    gaps = scale * (cos[None, :] - cos[:, None])[above]  # student's cos j - cos i where it should be negative
    return torch.logsumexp(torch.cat([gaps.new_zeros(1), gaps]), dim=0)


def spread_out(embeddings: torch.Tensor) -> torch.Tensor:
    """Global orthogonal regulariser: non-matching pairs should look like random unit vectors, whose dot
    products have mean 0 and second moment 1/dim. Penalises mean^2 and the second moment above 1/dim."""
    e = F.normalize(embeddings, dim=-1)
    n, dim = e.shape
    dots = (e @ e.T)[~torch.eye(n, dtype=torch.bool, device=e.device)]
    return dots.mean() ** 2 + F.relu(dots.pow(2).mean() - 1.0 / dim)
