"""Assembly operations of Papadimitriou et al., PNAS 2020, as recipes over :class:`Brain`.

Each function builds a brain, runs the operation the way the reference simulations.py does,
and returns plain Python metrics. Copies of a brain (the reference's ``deepcopy``) are free
here: a state is an immutable pytree, so keeping the old ``Brain.state`` is the copy.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from . import brain as B

__all__ = ["projection", "association", "merge", "pattern_completion", "density"]


def _spec(areas, stimuli, p, seed, capacity, kcap="auto", track=True, fibres=None, w_max=math.inf):
    return B.BrainSpec(areas=tuple(areas), stimuli=tuple(stimuli), p=p, seed=seed,
                       store_capacity=capacity, kcap=kcap, track_support=track, fibres=fibres,
                       w_max=w_max)


def _capacity(k, p, rounds):
    """Store slots for an area -> area fibre over ``rounds`` projections (k^2 p new synapses
    at most per round early on, far fewer once the assembly is stable)."""
    return int(min(2**23, max(2**14, 2 ** math.ceil(math.log2(k * k * max(p, 0.02) * rounds + 1)))))


def projection(n=10**6, k=1000, p=0.01, beta=0.05, t=50, seed=0, kcap="auto"):
    """Project a stimulus into area A repeatedly (stim -> A, then stim + A -> A).

    Returns support size ``w`` after every step (brain.py's ``saved_w``), the number of new
    winners per step, the overlap of consecutive winner sets, and the store report.
    """
    spec = _spec([B.Area("A", n, k, beta)], [B.Stimulus("stim", k)], p, seed,
                 _capacity(k, p, t), kcap,
                 fibres=(B.Fibre("stim", "A"), B.Fibre("A", "A")))
    b = B.Brain(spec)
    b.project({"stim": ["A"]})
    w, new, ov = [b.support("A")], [b.num_new("A")], []
    prev = b.winners("A")
    for _ in range(t - 1):
        b.project({"stim": ["A"]}, {"A": ["A"]})
        w.append(b.support("A"))
        new.append(b.num_new("A"))
        cur = b.winners("A")
        ov.append(B.overlap(prev, cur) / k)
        prev = cur
    return {"support": w, "num_new": new, "consecutive_overlap": ov, "stores": b.store_report(),
            "brain": b}


def association(n=10**5, k=317, p=0.05, beta=0.1, form_rounds=10, min_iter=10, max_iter=20,
                seed=0, kcap="auto"):
    """Association (simulations.py ``association_grand_sim``): assemblies A, B formed from
    stimuli, each projected into C separately, then A and B fire together into C; after each
    joint round, C's response to A alone and to B alone are compared (overlap / k).

    Returns ``{"rounds": [...], "overlap": [...], "overlap_before": float}``.
    """
    areas = [B.Area(x, n, k, beta) for x in "ABC"]
    fib = (B.Fibre("stimA", "A"), B.Fibre("stimB", "B"), B.Fibre("A", "A"), B.Fibre("B", "B"),
           B.Fibre("A", "C"), B.Fibre("B", "C"), B.Fibre("C", "C"))
    spec = _spec(areas, [B.Stimulus("stimA", k), B.Stimulus("stimB", k)], p, seed,
                 _capacity(k, p, 3 * form_rounds + max_iter), kcap, fibres=fib)
    b = B.Brain(spec)
    b.project({"stimA": ["A"], "stimB": ["B"]})
    for _ in range(form_rounds - 1):
        b.project({"stimA": ["A"], "stimB": ["B"]}, {"A": ["A"], "B": ["B"]})
    b.project({"stimA": ["A"]}, {"A": ["A", "C"]})
    for _ in range(form_rounds - 1):
        b.project({"stimA": ["A"]}, {"A": ["A", "C"], "C": ["C"]})
    b.project({"stimB": ["B"]}, {"B": ["B", "C"]})
    for _ in range(form_rounds - 1):
        b.project({"stimB": ["B"]}, {"B": ["B", "C"], "C": ["C"]})

    def c_overlap(brain):
        saved = brain.state
        brain.set_plasticity(False)
        brain.project({"stimA": ["A"]})
        brain.project(None, {"A": ["C"]})
        ca = brain.winners("C")
        brain.state = saved
        brain.set_plasticity(False)
        brain.project({"stimB": ["B"]})
        brain.project(None, {"B": ["C"]})
        cb = brain.winners("C")
        brain.state = saved
        return B.overlap(ca, cb) / k

    before = c_overlap(b)
    b.project({"stimA": ["A"], "stimB": ["B"]}, {"A": ["A", "C"], "B": ["B", "C"]})
    for _ in range(min_iter - 2):
        b.project({"stimA": ["A"], "stimB": ["B"]}, {"A": ["A", "C"], "B": ["B", "C"], "C": ["C"]})
    rounds, ovs = [], []
    for i in range(min_iter, max_iter + 1):
        b.project({"stimA": ["A"], "stimB": ["B"]}, {"A": ["A", "C"], "B": ["B", "C"], "C": ["C"]})
        rounds.append(i)
        ovs.append(c_overlap(b))
    return {"rounds": rounds, "overlap": ovs, "overlap_before": before,
            "stores": b.store_report()}


def merge(n=10**5, k=317, p=0.01, beta=0.05, max_t=50, seed=0, kcap="auto"):
    """Merge (simulations.py ``merge_sim``): A and B fire into C while C fires back into A, B.

    Returns support sizes of A, B, C per step and the final stability of C (overlap of its
    winners at the last two steps / k).
    """
    areas = [B.Area(x, n, k, beta) for x in "ABC"]
    fib = (B.Fibre("stimA", "A"), B.Fibre("stimB", "B"), B.Fibre("A", "A"), B.Fibre("B", "B"),
           B.Fibre("A", "C"), B.Fibre("B", "C"), B.Fibre("C", "C"), B.Fibre("C", "A"),
           B.Fibre("C", "B"))
    spec = _spec(areas, [B.Stimulus("stimA", k), B.Stimulus("stimB", k)], p, seed,
                 _capacity(k, p, max_t + 2), kcap, fibres=fib)
    b = B.Brain(spec)
    b.project({"stimA": ["A"]})
    b.project({"stimB": ["B"]})
    b.project({"stimA": ["A"], "stimB": ["B"]}, {"A": ["A", "C"], "B": ["B", "C"]})
    sup = {x: [b.support(x)] for x in "ABC"}
    prev = b.winners("C")
    stab = []
    for _ in range(max_t):
        b.project({"stimA": ["A"], "stimB": ["B"]},
                  {"A": ["A", "C"], "B": ["B", "C"], "C": ["C", "A", "B"]})
        for x in "ABC":
            sup[x].append(b.support(x))
        cur = b.winners("C")
        stab.append(B.overlap(prev, cur) / k)
        prev = cur
    return {"support_A": sup["A"], "support_B": sup["B"], "support_C": sup["C"],
            "C_consecutive_overlap": stab, "stores": b.store_report()}


def pattern_completion(n=10**5, k=317, p=0.01, beta=0.05, project_iter=25, comp_iter=5,
                       alphas=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0), seed=0,
                       kcap="auto"):
    """Pattern completion (simulations.py ``pattern_com_alphas``): form an assembly, then fire
    a random fraction ``alpha`` of it and let A fire into itself ``comp_iter`` times; report
    overlap of the result with the assembly (/ k) per alpha."""
    spec = _spec([B.Area("A", n, k, beta)], [B.Stimulus("stim", k)], p, seed,
                 _capacity(k, p, project_iter + comp_iter * len(alphas)), kcap,
                 fibres=(B.Fibre("stim", "A"), B.Fibre("A", "A")))
    b = B.Brain(spec)
    b.project({"stim": ["A"]})
    for _ in range(project_iter - 1):
        b.project({"stim": ["A"]}, {"A": ["A"]})
    assembly = b.winners("A")
    trained = b.state
    rng = np.random.default_rng(seed)
    out = {}
    for alpha in alphas:
        m = int(k * alpha)
        sub = np.sort(rng.choice(assembly, m, replace=False))
        b.state = trained
        b.set_winners("A", sub)
        for _ in range(comp_iter):
            b.project(None, {"A": ["A"]})
        out[float(alpha)] = B.overlap(b.winners("A"), assembly) / k
    return {"alphas": [float(a) for a in alphas], "recovered": [out[float(a)] for a in alphas]}


def density(n=10**5, k=317, p=0.01, betas=(0.0, 0.025, 0.05, 0.075, 0.1), rounds=20, seed=0,
            kcap="auto"):
    """Assembly density (simulations.py ``density``): fraction of ordered pairs of the final
    assembly's neurons joined by a recurrent synapse (brain.py counts i == j too), per beta;
    with beta > 0 it exceeds the ambient p."""
    spec = _spec([B.Area("A", n, k, 0.0)], [B.Stimulus("stim", k)], p, seed,
                 _capacity(k, p, rounds + 1), kcap,
                 fibres=(B.Fibre("stim", "A"), B.Fibre("A", "A")))
    res = []
    for beta in betas:  # beta is state, not spec: one compilation for all betas
        b = B.Brain(spec)
        b.set_beta("stim", "A", float(beta))
        b.set_beta("A", "A", float(beta))
        b.project({"stim": ["A"]})
        for _ in range(rounds):
            b.project({"stim": ["A"]}, {"A": ["A"]})
        w = b.winners("A")
        conn = B.fibre_weights(spec, b.state, "A", "A", w, w) > 0
        res.append(float(jnp.mean(conn)))
    return {"betas": [float(x) for x in betas], "density": res, "p": p}
