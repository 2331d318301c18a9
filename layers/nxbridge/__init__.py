"""nxbridge: verify, map and queue customer webhooks; deliver them to NXCloud in batches of 100."""

__version__ = "0.1.0"
