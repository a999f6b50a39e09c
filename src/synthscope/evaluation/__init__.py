"""Metrics, classical baselines, scoring on real images and reports."""

from synthscope.evaluation.baselines import BASELINES, kmeans_segment, otsu_segment
from synthscope.evaluation.evaluate import FolderScores, aggregate, evaluate_folder, score_pair
from synthscope.evaluation.metrics import (
    BoundaryF1,
    boundary_f1,
    dice,
    grain_size_distance,
    grains_from_boundaries,
    iou,
    mean_iou,
    pixel_error,
    split_at_gaps,
)

__all__ = [
    "BASELINES",
    "BoundaryF1",
    "FolderScores",
    "aggregate",
    "boundary_f1",
    "dice",
    "evaluate_folder",
    "grain_size_distance",
    "grains_from_boundaries",
    "iou",
    "kmeans_segment",
    "mean_iou",
    "otsu_segment",
    "pixel_error",
    "score_pair",
    "split_at_gaps",
]
