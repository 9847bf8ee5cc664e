"""The assembly calculus (NEMO): areas with k-cap, stimuli, fibres, Hebbian plasticity.

* :mod:`.brain`: the implicit-mode brain (connectivity from a hash, learned weights in a
  sparse delta store read back by every projection): ``BrainSpec``, ``init``, ``project``,
  ``activate``, ``fix`` / ``unfix``, ``inhibit`` / ``disinhibit``, ``Brain`` (host wrapper).
* :mod:`.lazy`: the lazy (sparse) mode of the reference brain.py (only neurons that ever
  fired exist; cost independent of n): ``LazyBrain``, ``lazy.project``.
* :mod:`.implicit`: the hashed connectivity; :mod:`.kcap`: the k-cap and its tie rule.
* :mod:`.operations`: projection, association, merge, pattern completion recipes (PNAS 2020).
* :mod:`.learner`: word acquisition (learner.py semantics) with neural readouts only.
* :mod:`.parser`: the English parser (parser.py semantics), dependencies read from LEX.
* :mod:`.word_order`: word-order learning and generation (word_order_int.py semantics).
* :mod:`.fibrewise`: ``project`` as per-fibre kernels driven from the host (fast compile
  on CPU for applications with many projection maps).
* :mod:`.batched`: rounds with the fibres and areas of each round stacked, for one traced
  program (the parser's one-program-per-sentence path: few kernels per round on a GPU).
* :mod:`.seed_workload`: the jitted seed benchmark sentence.

See docs/assemblies.md.
"""

from .brain import (PAD, Area, Brain, BrainSpec, BrainState, Fibre, Stimulus, activate,
                    area_inputs, fibre_weights, fix, init, inhibit, disinhibit, overlap,
                    project, set_beta, set_plasticity, set_winners, unfix)
from .kcap import k_cap

__all__ = ["PAD", "Area", "Brain", "BrainSpec", "BrainState", "Fibre", "Stimulus", "activate",
           "area_inputs", "fibre_weights", "fix", "init", "inhibit", "disinhibit", "overlap",
           "project", "set_beta", "set_plasticity", "set_winners", "unfix", "k_cap"]
