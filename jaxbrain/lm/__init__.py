"""The modular spiking language model (the NeuroGen 2.0 replacement); see docs/lm.md.

Six modules of adaptive LIF neurons (Thalamus, Wernicke, Broca, Hippocampus, PFC, Basal
Ganglia) with sparse recurrent and inter-module projections, between a token embedding and a
vocabulary decoder, trained by surrogate-gradient BPTT. Submodules: ``modules``,
``neuromodulation``, ``model``, ``sampling``, ``generate``, ``train``, ``baselines``,
``dashboard``, ``tokenizers``, ``cli``.
"""
