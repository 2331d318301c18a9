"""nxbridge's development package: the strict NXCloud simulator, the local stack and the demo (never in the layer)."""
