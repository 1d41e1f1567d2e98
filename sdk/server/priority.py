"""Model work runs below the event loop's CPU priority, so that /health and admission answer under load.

On 2 cores the two one-thread model sessions keep both cores busy, and the event loop thread waited its turn with
them: /health p99 191.7 ms under benchmarks/bench_abuse.py. A nice value 10 above the loop's gives the loop the
core when it wakes (results/abuse.md). Linux sets nice per thread, and threads inherit it from the thread that
creates them (onnxruntime's and the tokenizer's pools included); elsewhere this does nothing.
"""

from __future__ import annotations

import os
import sys
import threading

BELOW_LOOP = 10  # nice steps under the event loop


def lower_this_thread(steps: int = BELOW_LOOP) -> None:
    """Raise the calling thread's nice value by `steps` (Linux); never raises."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + steps))
    except OSError:  # a sandbox that forbids it: run at the same priority, as before
        pass
