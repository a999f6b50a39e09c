"""synthscope: train microscopy image-analysis networks on synthetic, labelled data.

Importing the package is cheap: it imports no torch and does no work; subpackages are
imported where they are used.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
