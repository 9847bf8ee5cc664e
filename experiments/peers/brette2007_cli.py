"""The command line every Brette 2007 peer script shares (bench_coba_cpu calls them alike):
--network coba|cuba, --seed, --duration-ms, --n-exc, --n-inh."""

import argparse


def brette_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser()
    ap.add_argument("--network", choices=["coba", "cuba"], default="coba")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--n-exc", type=int, default=3200)
    ap.add_argument("--n-inh", type=int, default=800)
    return ap
