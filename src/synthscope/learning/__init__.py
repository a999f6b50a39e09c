"""Learning: MONAI networks, training on synthetic data, sliding-window inference.

Importing this package imports torch; `import synthscope` alone does not.
"""

from synthscope.learning.infer import decide_classes, fuse_probabilities, predict, predict_mask
from synthscope.learning.models import MODELS, create_model, normalize_image
from synthscope.learning.train import Stage, TrainConfig, load_model, train

__all__ = ["decide_classes", "fuse_probabilities", "MODELS", "Stage", "TrainConfig", "create_model", "load_model", "normalize_image", "predict", "predict_mask", "train"]
