"""How vectors are stored (float32, float16, int8, binary) and scored against a query."""

from __future__ import annotations

import numpy as np

QUANTIZATIONS = ("float32", "float16", "int8", "binary")
METRICS = ("cosine", "dot", "l2")


def check_vectors(vectors, dim: int | None) -> np.ndarray:
    """A finite float32 (n, dim) array, or a ValueError that says what is wrong."""
    try:
        array = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError("vectors must be numbers: a (n, dim) array or a list of equal-length lists") from None
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"vectors must be 2-D (n, dim), got shape {array.shape}")
    if dim is not None and array.shape[1] != dim:
        raise ValueError(f"vectors have dim {array.shape[1]}, this store holds dim {dim}")
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise ValueError(f"vectors hold NaN or inf at rows {np.flatnonzero(bad)[:10].tolist()}")
    return array


def prepare(vectors: np.ndarray, metric: str) -> np.ndarray:
    """Cosine stores unit vectors so that search is a dot product."""
    if metric != "cosine":
        return vectors
    # in float64: float32 squares overflow above ~1.8e19 (a norm of inf made such a vector all zeros) and
    # underflow below ~1e-19 (a valid tiny vector was refused as zero)
    # (float64 holds the square of any float32, 1e-90 to 1e77)
    wide = vectors.astype(np.float64)
    norms = np.linalg.norm(wide, axis=1, keepdims=True)
    zero = np.flatnonzero(norms[:, 0] == 0)
    if len(zero):
        raise ValueError(
            f"rows {zero[:10].tolist()} are zero vectors, which have no direction: cosine similarity "
            "is undefined for them"
        )
    return (wide / norms).astype(np.float32)


def encode(vector: np.ndarray, quantization: str) -> bytes:
    if quantization == "float32":
        return vector.astype("<f4").tobytes()
    if quantization == "float16":
        return vector.astype("<f2").tobytes()
    if quantization == "int8":
        codes, scales = int8_rows(vector[None, :])
        return scales.astype("<f4").tobytes() + codes.tobytes()
    return np.packbits(vector > 0).tobytes()


def int8_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one float32 scale per row: row ~ codes * scale."""
    scales = (np.maximum(np.abs(matrix).max(axis=1).astype(np.float64), 1e-12) / 127.0).astype(np.float32)
    return np.round(matrix / scales[:, None]).astype(np.int8), scales


def decode_matrix(blobs: list[bytes], dim: int, quantization: str) -> np.ndarray:
    """Stored blobs -> the matrix search runs on: float32 rows, or packed sign bits for binary."""
    if not blobs:
        width = (dim + 7) // 8 if quantization == "binary" else dim
        return np.zeros((0, width), dtype=np.uint8 if quantization == "binary" else np.float32)
    if quantization == "int8":
        codes, scales = int8_codes(blobs, dim)
        return codes.astype(np.float32) * scales[:, None]
    raw = b"".join(blobs)
    if quantization == "float32":
        return np.frombuffer(raw, "<f4").reshape(len(blobs), dim).astype(np.float32)
    if quantization == "float16":
        return np.frombuffer(raw, "<f2").reshape(len(blobs), dim).astype(np.float32)
    return np.frombuffer(raw, np.uint8).reshape(len(blobs), (dim + 7) // 8).copy()


def int8_codes(blobs: list[bytes], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Stored int8 blobs -> their (n, dim) int8 codes and (n,) float32 scales; a row decodes to codes * scale."""
    rows = np.frombuffer(b"".join(blobs), np.uint8).reshape(len(blobs), 4 + dim)
    return rows[:, 4:].view(np.int8).copy(), rows[:, :4].copy().view("<f4").ravel().astype(np.float32)


def int8_dots(codes: np.ndarray, query_codes: np.ndarray) -> np.ndarray:
    """codes @ query_codes, exact integers (int32 or float64): numkong's SIMD kernel (AVX-512 VNNI, NEON dot
    product...) where it is installed (the ann extra brings it), numpy in blocks otherwise."""
    try:
        import numkong
    except ImportError:
        query = query_codes.astype(np.float64)
        return np.concatenate(
            [codes[s : s + 65536].astype(np.float64) @ query for s in range(0, len(codes), 65536)] or [np.zeros(0)]
        )
    if not len(codes):
        return np.zeros(0, dtype=np.int32)
    return np.asarray(numkong.dots_packed(np.ascontiguousarray(codes), numkong.dots_pack(query_codes[None])))[:, 0]


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)


def scores(matrix: np.ndarray, query: np.ndarray, metric: str, quantization: str) -> np.ndarray:
    """Higher is better: dot/cosine similarity, negative L2 distance, or 1 - 2*hamming/dim for binary."""
    if quantization == "binary":
        bits = np.packbits(query > 0)
        hamming = _POPCOUNT[np.bitwise_xor(matrix, bits)].sum(axis=1)
        return 1.0 - 2.0 * hamming / len(query)
    if metric == "l2":
        return -np.sqrt(np.maximum(np.sum(matrix * matrix, axis=1) - 2 * matrix @ query + query @ query, 0))
    return matrix @ query
