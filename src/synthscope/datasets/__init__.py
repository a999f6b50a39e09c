"""Samples, datasets on disk, real-image folders and (lazily) torch datasets."""

from synthscope.datasets.io import DatasetInfo, open_dataset, read_image, write_sample_files
from synthscope.datasets.real import RealFolder, list_images
from synthscope.datasets.sample import Sample

__all__ = ["DatasetInfo", "RealFolder", "Sample", "list_images", "open_dataset", "read_image", "write_sample_files"]
