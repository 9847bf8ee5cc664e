"""One GPU session for issue 6, in priority order, within a wall-time budget:

A. the small config with the new recipe (8 substeps, surrogate dampening 0.3), a fixed number
   of steps, every baseline trained for the same steps on the same batches;
B. the throughput benchmark (configs/lm_bench.toml) at the current and small scales;
C. the same small run with the first recipe (4 substeps, undamped surrogate), same steps;
D. the benchmark's training rows with XLA's scatter-add backward (the old backward);
E. the benchmark's training rows without remat (the forward kept for the backward pass);
F. the small run with the spikes-only read-out (leaky trace of Broca's spikes, tau 8 ms).

    PYTHONPATH=. python experiments/lm_gpu_session.py OUT_DIR [steps] [budget_s] [part,part]

Each part runs through ``jaxbrain.runs.execute`` (as ``jaxbrain run`` does); a part that
would start after ``budget_s`` is skipped and says so.
"""

import sys
import time
import traceback

from jaxbrain.runs import execute


def main(out, steps=200, budget=420.0, only=None):
    t0 = time.perf_counter()
    parts = [
        ("small_new", "configs/lm_small.toml",
         ["progress=false", f"steps={steps}", "time_limit_s=300"], 0),
        ("bench", "configs/lm_bench.toml",
         ['scales=["current", "small"]', "budget_s=90", "repeats=3"], 110),
        ("small_old", "configs/lm_small.toml",
         ["progress=false", f"steps={steps}", "substeps=4", "surrogate_scale=1.0",
          'baselines=["bigram"]', "ablation=false", "time_limit_s=100"], 130),
        ("bench_scatter", "configs/lm_bench.toml",
         ['scales=["current"]', "budget_s=30", "repeats=2", "transposed_backward=false",
          "gen_batches=[]", "train_batches=[64]"], 40),
        ("bench_noremat", "configs/lm_bench.toml",
         ['scales=["current", "small"]', "budget_s=60", "repeats=2", "remat=false",
          "gen_batches=[]", "train_batches=[64]"], 60),
        ("small_trace", "configs/lm_small.toml",
         ["progress=false", f"steps={steps}", "readout=\"trace\"", "tau_out=8.0",
          'baselines=["bigram"]', "ablation=false", "time_limit_s=200"], 130),
    ]
    for name, config, overrides, need_s in parts:
        if only and name not in only:
            continue
        left = budget - (time.perf_counter() - t0)
        if left < need_s:
            print(f"== {name}: skipped ({left:.0f} s left of the budget)", flush=True)
            continue
        print(f"== {name}: {config} {overrides}", flush=True)
        try:
            s = execute(config, f"{out}/{name}", overrides)
            print(f"== {name} done: {s.get('metrics')}", flush=True)
        except Exception:  # noqa: BLE001 - report and go on with the next part
            traceback.print_exc()
        print(f"== elapsed {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200,
         float(sys.argv[3]) if len(sys.argv) > 3 else 420.0,
         sys.argv[4].split(",") if len(sys.argv) > 4 else None)
