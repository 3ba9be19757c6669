"""rfactory: a factory for verified synthetic reasoning data."""

__version__ = "0.1.0"
