"""Which integer dot-product instructions this CPU offers: what onnxruntime's int8 kernels (MLAS) run on here.

Figures measured on one CPU hold for CPUs of the same kind only: on x86, u8 x s8 products are summed by VNNI
(`vpdpbusd`, 32-bit sums) where the CPU has it, and by `vpmaddubsw` (pairs summed into 16 bits, saturating)
where it has AVX2 or AVX-512BW without VNNI. Reports and benchmarks print `int8_kernels()` beside their figures.
"""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path

# best first: the first flag the CPU has names the instructions MLAS's u8s8 GEMM uses on it
X86_INT8 = (
    ("amx_int8", "AMX-INT8"),
    ("avx512_vnni", "AVX-512 VNNI"),
    ("avx_vnni", "AVX-VNNI"),
    ("avx512bw", "AVX-512BW without VNNI (vpmaddubsw, 16-bit pair sums)"),
    ("avx2", "AVX2 without VNNI (vpmaddubsw, 16-bit pair sums)"),
)
ARM_INT8 = (("i8mm", "NEON i8mm"), ("asimddp", "NEON dot product"), ("asimd", "NEON"))


@cache
def cpu_flags() -> frozenset[str]:
    """The feature flags /proc/cpuinfo lists for the first CPU (empty where there is none: macOS, Windows)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def int8_kernels(flags: frozenset[str] | None = None) -> str:
    """The integer dot-product instructions onnxruntime's int8 path uses on this CPU, for reports."""
    flags = cpu_flags() if flags is None else flags
    machine = platform.machine() or "unknown CPU"
    for flag, name in X86_INT8 + ARM_INT8:
        if flag in flags:
            return f"{machine}, {name}"
    return f"{machine}, {'no integer dot-product flags found' if flags else 'CPU flags unknown'}"


def has_vnni(flags: frozenset[str] | None = None) -> bool:
    """Whether u8 x s8 products are summed in 32 bits here (VNNI or AMX) rather than in saturating 16-bit pairs."""
    flags = cpu_flags() if flags is None else flags
    return bool(flags & {"amx_int8", "avx512_vnni", "avx_vnni"})


@cache
def default_threads() -> int:
    """The threads a runtime gets when the caller names none: one per physical core this process may run on, as
    onnxruntime chooses for itself (LiteRT would run on one)."""
    import os

    try:
        allowed = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        allowed = os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    physical = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "physical id":
                physical = value.strip()
            elif key.strip() == "core id":
                cores.add((physical, value.strip()))
    except OSError:
        pass
    return max(1, min(allowed, len(cores) or allowed))
