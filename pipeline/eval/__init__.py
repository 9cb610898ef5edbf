"""Scoring label maps against ground truth, DeepLab inference for scoring, and the report."""
