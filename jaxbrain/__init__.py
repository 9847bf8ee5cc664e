"""jaxbrain: brain simulation at scale in JAX.

Layers (imports point downward): ``rng``, ``neurons``, ``inputs``, ``connectivity``,
``propagation``, ``delays`` (primitives) -> ``network``, ``simulate`` (networks) ->
``models``, ``plasticity``, ``assemblies``, ``lm``, ``meanfield`` (applications).
"""

__version__ = "0.1.0"
