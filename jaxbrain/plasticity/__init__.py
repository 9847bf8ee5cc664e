"""Plasticity rules as pure ``init`` / ``update`` pairs (Optax style), usable on any projection.

Long-term: :data:`pair_stdp` (additive / multiplicative), :data:`triplet_stdp`
(Pfister & Gerstner 2006, four published sets), :data:`diehl_cook_stdp`,
:data:`reward_stdp` (three-factor with eligibility traces). Homeostasis:
:data:`adaptive_threshold`, :data:`target_rate_threshold`, :func:`normalize_weights`.
Short-term: :data:`tsodyks_markram`. Conventions (units, step order, dense vs synapse list,
window accumulation) are in :mod:`jaxbrain.plasticity.traces`.
"""

from .diehl_cook import DiehlCookParams, DiehlCookState, diehl_cook_stdp
from .homeostasis import (Homeostat, TargetRateParams, ThresholdParams, adaptive_threshold,
                          normalize_weights, target_rate_threshold)
from .reward import RewardSTDPParams, RewardState, reward_stdp
from .stdp import PairState, PairSTDPParams, additive_stdp, multiplicative_stdp, pair_stdp
from .stp import STPParams, STPState, depressing, facilitating, steady_state_ratio, tsodyks_markram
from .traces import (Factors, PlasticityRule, accumulate, bounded_change, bump, check_projection,
                     decay, make_update, outer)
from .triplet import TRIPLET_SETS, TripletParams, TripletState, triplet_params, triplet_stdp

__all__ = [
    "DiehlCookParams", "DiehlCookState", "diehl_cook_stdp", "Homeostat", "TargetRateParams",
    "ThresholdParams", "adaptive_threshold", "normalize_weights", "target_rate_threshold",
    "RewardSTDPParams", "RewardState", "reward_stdp", "PairState", "PairSTDPParams",
    "additive_stdp", "multiplicative_stdp", "pair_stdp", "STPParams", "STPState", "depressing",
    "facilitating", "steady_state_ratio", "tsodyks_markram", "Factors", "PlasticityRule",
    "accumulate", "bounded_change", "bump", "check_projection", "decay", "make_update", "outer",
    "TRIPLET_SETS", "TripletParams", "TripletState", "triplet_params", "triplet_stdp",
    "pairing_protocol", "run_rule",
]

from .protocols import pairing_protocol, run_rule  # noqa: E402
