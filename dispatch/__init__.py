"""Privacy-preserving direct-marketing dispatch."""

__version__ = "0.1.0"
