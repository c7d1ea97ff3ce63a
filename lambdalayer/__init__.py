"""lambdalayer: AWS Lambda layers for any runtime and architecture, from any host."""

__version__ = "0.1.0"
