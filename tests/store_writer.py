"""A writer process for the crash tests: adds batches and prints each batch number once add() returned."""

import sys

import numpy as np

from embedlite import VectorStore

path, batches, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(int(sys.argv[4]) if len(sys.argv) > 4 else 0)
store = VectorStore(path, dim=32)
start = store.count()
for b in range(batches):
    ids = [f"b{start + b * size + i}" for i in range(size)]
    store.add(ids, rng.normal(size=(size, 32)), metadata=[{"batch": b}] * size)
    print(ids[-1], flush=True)  # acknowledged
