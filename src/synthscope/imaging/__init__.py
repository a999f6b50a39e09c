"""Forward models of the measurement: from a Specimen's material maps to pixels."""

from synthscope.imaging.augment import augment_pair
from synthscope.imaging.detector import add_shot_noise, image_detector

__all__ = ["add_shot_noise", "augment_pair", "image_detector"]
