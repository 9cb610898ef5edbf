"""Class activation maps: the registry of post-hoc map methods and multi-scale extraction."""
