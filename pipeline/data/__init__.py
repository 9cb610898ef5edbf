"""Datasets: the built-in generator, any VOC-layout root, and training transforms."""
