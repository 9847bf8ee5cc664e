"""Where the time of a jitted call goes: kernel time summed by kernel name.

``kernel_table(fn)`` runs ``fn()`` once under ``jax.profiler.trace`` and reads the Perfetto
trace it writes. On a GPU the rows are the device's kernels and copies (the processes named
``/device:...``); on the CPU, where there is no device timeline, they are the XLA executor's
thunks (threads named ``tf_XLA...``). Times are microseconds of the traced call."""

from __future__ import annotations

import collections
import glob
import gzip
import json
import os
import tempfile

import jax

__all__ = ["kernel_table"]


def _events(trace: dict | list):
    ev = trace["traceEvents"] if isinstance(trace, dict) else trace
    procs = {e["pid"]: e["args"]["name"] for e in ev
             if e.get("ph") == "M" and e.get("name") == "process_name"}
    threads = {(e["pid"], e.get("tid")): e["args"]["name"] for e in ev
               if e.get("ph") == "M" and e.get("name") == "thread_name"}
    device = {p for p, n in procs.items() if n.startswith("/device:")}
    spans = [e for e in ev if e.get("ph") == "X" and "dur" in e]
    if device:
        return [e for e in spans if e["pid"] in device], "device"
    return [e for e in spans  # the thunks, not the executor's own bookkeeping spans
            if threads.get((e["pid"], e.get("tid")), "").startswith("tf_XLA")
            and "::" not in e["name"] and not e["name"].startswith("end: ")], "host"


def kernel_table(fn, top: int = 30) -> dict:
    """Trace one ``fn()`` (call it once before, so that compilation is not traced).

    Returns ``{"timeline": "device" | "host", "busy_us": total kernel time, "kernels":
    number of kernel launches, "rows": [{"name", "calls", "total_us", "share"}, ...]}``, the
    ``top`` rows by total time, largest first."""
    with tempfile.TemporaryDirectory() as d:
        with jax.profiler.trace(d, create_perfetto_trace=True):
            jax.block_until_ready(fn())
        paths = glob.glob(os.path.join(d, "**", "perfetto_trace.json.gz"), recursive=True)
        if not paths:
            raise RuntimeError(f"jax.profiler wrote no perfetto_trace.json.gz under {d}")
        with gzip.open(paths[0]) as f:
            spans, timeline = _events(json.load(f))
    calls, total = collections.Counter(), collections.Counter()
    for e in spans:
        calls[e["name"]] += 1
        total[e["name"]] += float(e["dur"])
    busy = sum(total.values())
    rows = [{"name": n, "calls": calls[n], "total_us": round(t, 1),
             "share": round(t / busy, 4) if busy else 0.0}
            for n, t in total.most_common(top)]
    return {"timeline": timeline, "busy_us": round(busy, 1), "kernels": sum(calls.values()),
            "rows": rows}
