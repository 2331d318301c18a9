"""SAM's entry point for the Ingest function: the handler lives in the shared layer, importable by name."""

from nxbridge.handlers.ingest import lambda_handler

__all__ = ["lambda_handler"]
