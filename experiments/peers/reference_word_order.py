"""Time the reference word-order learner (dmitropolsky/assemblies ``word_order_int.py``,
imported from a local checkout at run time): seconds per random transitive training
sentence (``LearnBrain.input_random_trans_sentence``) with its defaults (n = 1e5, k = 100,
beta = 0.06, 10 firing rounds per constituent, 2 nouns + 2 verbs, SVO) at ``--p``.

    python experiments/peers/reference_word_order.py --reference /path/to/assemblies \
        --sentences 4 --out ref_word_order.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", required=True, help="checkout of dmitropolsky/assemblies")
    ap.add_argument("--p", type=float, default=0.05)
    ap.add_argument("--sentences", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    sys.path.insert(0, a.reference)
    import numpy as np
    import word_order_int as ref

    random.seed(a.seed)
    np.random.seed(a.seed)
    b = ref.LearnBrain(a.p)
    secs = []
    for i in range(a.sentences):
        t0 = time.perf_counter()
        b.input_random_trans_sentence()
        secs.append(time.perf_counter() - t0)
        print(f"sentence {i}: {secs[-1]:.2f} s", flush=True)
    out = {"peer": "dmitropolsky/assemblies word_order_int.py LearnBrain (defaults), SVO",
           "p": a.p, "machine": f"{platform.machine()}, Python {platform.python_version()}, "
                                f"numpy {np.__version__}",
           "command": " ".join(["python", "experiments/peers/reference_word_order.py"] + sys.argv[1:]),
           "seconds_per_sentence": secs, "seconds_mean": float(np.mean(secs))}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
