"""SAM's entry point for the Replay function: the handler lives in the shared layer, importable by name."""

from nxbridge.handlers.replay import lambda_handler

__all__ = ["lambda_handler"]
