"""digest: weekly and monthly email digests from a stream of content items."""

__version__ = "0.1.0"
