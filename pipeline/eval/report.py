"""The HTML report: per-stage quality table, per-class IoU, and a grid of sample images."""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from pipeline.core.config import bounded
from pipeline.core.labels import label_names
from pipeline.eval.convergence import progress_phrases
from pipeline.io.label_png import voc_palette

STAGE_TITLES = {"cam": "CAM", "rw": "Random walk", "crf": "Dense CRF", "seg": "DeepLab (val)"}
HEADLINE = ("miou", "precision", "recall", "fp_share", "fn_share", "fg_recall")
GRID_COLUMNS = ("image", "ground truth", "CAM", "random walk", "CRF", "DeepLab")


@dataclass
class ReportParams:
    """The `report` section."""

    samples: int = bounded(6, 1)  # sample images: the first ones of the train split


def colourise(labels: np.ndarray) -> np.ndarray:
    """Label map -> RGB with the VOC palette."""
    return voc_palette()[labels]


def sample_grid(rows: list[list[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Tile RGB images (rows x columns, all the same size) with a white gap."""
    height, width = rows[0][0].shape[:2]
    grid = np.full((len(rows) * (height + gap) - gap, len(rows[0]) * (width + gap) - gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            grid[r * (height + gap):r * (height + gap) + height, c * (width + gap):c * (width + gap) + width] = image
    return grid


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _training_rows(training: dict[str, dict]) -> list[list[str]]:
    """One row per training run: its epochs, what its last epoch gained, and the verdict."""
    return [[html.escape(name), str(run["epochs"]), *map(html.escape, progress_phrases(run))]
            for name, run in training.items()]


def render_html(metrics: dict[str, dict], classes: list[str], grid_file: str, notes: list[str],
                training: dict[str, dict]) -> str:
    """The report page; `metrics` maps a stage key (cam, rw, crf, seg) to its summary,
    `training` a training run to its `convergence.last_epoch_progress`."""
    stages = [s for s in STAGE_TITLES if s in metrics]
    stage_rows = [[STAGE_TITLES[s]] + [f"{metrics[s][k]:.3f}" for k in HEADLINE] for s in stages]
    names = label_names(classes)
    class_rows = [[html.escape(n)] + [
        f"{metrics[s]['per_class'][n]['iou']:.3f}" if n in metrics[s]["per_class"] else "–" for s in stages
    ] for n in names]
    style = ("body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right}td:first-child{text-align:left}"
             "img{image-rendering:pixelated;width:100%;max-width:60em}")
    notes_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>WSSS pseudo-label report</title>"
        f"<style>{style}</style></head><body><h1>Pseudo-label quality per stage</h1>"
        f"<p>CAM, random walk and CRF are scored on the train split (the pseudo-labels); "
        f"DeepLab on the val split.</p>"
        + _table(["stage", *HEADLINE], stage_rows)
        + f"<ul>{notes_html}</ul><h2>IoU per class</h2>"
        + _table(["class", *[STAGE_TITLES[s] for s in stages]], class_rows)
        + "<h2>Training: the last epoch</h2><p>A run still learning when it stopped leaves every later "
        "stage short of what the data allows.</p>"
        + _table(["run", "epochs", "last epoch", "verdict"], _training_rows(training))
        + f"<h2>Samples</h2><p>{' | '.join(GRID_COLUMNS)}</p><img src='{html.escape(grid_file)}' alt='samples'>"
        + "</body></html>\n"
    )
