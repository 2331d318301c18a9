"""SAM's entry point for the Drain function: the handler lives in the shared layer, importable by name."""

from nxbridge.handlers.drain import lambda_handler

__all__ = ["lambda_handler"]
