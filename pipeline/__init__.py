"""WSSS pseudo-label pipeline: the library behind the DVC stages.

Everything here is importable and testable without DVC; `stages/` holds the thin
command-line entry points that read params.yaml and call into this package.
"""
