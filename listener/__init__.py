"""listener: a social-listening watchlist daemon."""

__version__ = "0.1.0"
