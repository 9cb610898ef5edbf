"""Refining CAMs: confident affinity labels, the AffinityNet random walk, dense CRF."""
