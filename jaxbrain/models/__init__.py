"""Reference networks from the literature, each a builder returning ``(network, state)``."""
