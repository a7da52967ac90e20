"""recsys_lesson: the package behind *Deep Learning for Recommender Systems*."""

__version__ = "0.1.0"
