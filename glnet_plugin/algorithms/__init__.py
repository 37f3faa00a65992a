"""The glnet Processing algorithms, one module each; :data:`ALGORITHMS` lists them in Toolbox order."""

from __future__ import annotations

from .evaluate import EvaluateAlgorithm
from .model_info import ModelInfoAlgorithm
from .segment import SegmentAlgorithm
from .train import TrainAlgorithm
from .vectorize import VectorizeAlgorithm
from .zonal_stats import ZonalStatsAlgorithm

__all__ = ["ALGORITHMS"]

#: The algorithm classes the provider registers (ids glnet:segment, glnet:vectorize, ..., glnet:train).
ALGORITHMS = (SegmentAlgorithm, VectorizeAlgorithm, EvaluateAlgorithm, ZonalStatsAlgorithm, ModelInfoAlgorithm, TrainAlgorithm)
