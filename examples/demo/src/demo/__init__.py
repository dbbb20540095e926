"""A tiny service used as fast-build's example project."""

__version__ = "0.1.0"
