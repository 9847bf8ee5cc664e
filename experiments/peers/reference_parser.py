"""Time the reference parser (dmitropolsky/assemblies ``parser.py``, imported from a local
checkout at run time) on given sentences, so that our parser's speed can be compared with
the reference on the same sentences and the same machine.

    python experiments/peers/reference_parser.py --reference /path/to/assemblies \
        --out ref_parser.json "cats chase mice" "the big dogs chase the bad cats"

Each sentence is parsed ``--repeats`` times with the reference's defaults (p = 0.1, LEX_k =
20, 20 projection rounds, fibre readout; its Brain seeds its own generator with 0), verbose
off; the JSON holds the wall time of each parse and the dependencies it printed. The
checkout needs ``pptree`` importable (a stub directory can be passed with ``--extra-path``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sentences", nargs="+")
    ap.add_argument("--reference", required=True, help="checkout of dmitropolsky/assemblies")
    ap.add_argument("--extra-path", default=None, help="directory with a pptree stub")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    sys.path[:0] = [p for p in (a.reference, a.extra_path) if p]
    import numpy as np
    import parser as ref   # the reference's parser.py (shadows nothing in the standard library)

    rows = []
    for sent in a.sentences:
        for rep in range(a.repeats):
            buf = io.StringIO()
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(buf):
                ref.parse(sent, verbose=False)
            rows.append({"sentence": sent, "repeat": rep, "seconds": time.perf_counter() - t0,
                         "printed": buf.getvalue().strip()})
            print(f"{sent!r} {rows[-1]['seconds']:.3f} s", flush=True)
    out = {"peer": "dmitropolsky/assemblies parser.py (reference defaults)",
           "machine": f"{platform.processor() or platform.machine()}, Python "
                      f"{platform.python_version()}, numpy {np.__version__}",
           "command": " ".join(["python", "experiments/peers/reference_parser.py"] + sys.argv[1:]),
           "rows": rows,
           "seconds_mean_by_sentence": {s: float(np.mean([r["seconds"] for r in rows
                                                          if r["sentence"] == s]))
                                        for s in a.sentences}}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
