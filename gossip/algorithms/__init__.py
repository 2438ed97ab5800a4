"""Algorithms: compose compressors, codecs and a communicator into one gossip round."""

from .base import Algorithm, GradientOracle, NeighbourDecodeError, RoundInfo
from .choco import ChocoSGD, MalcomPSGD, soft_threshold
from .dpsgd import DPSGD
from .edges import EdgeChocoSGD, EdgeDPSGD
from .server import GDSEC, SASG, AdaptiveTopK, TopKEF

__all__ = ["Algorithm", "GradientOracle", "NeighbourDecodeError", "RoundInfo", "ChocoSGD",
           "MalcomPSGD", "soft_threshold", "DPSGD", "EdgeChocoSGD", "EdgeDPSGD", "TopKEF", "GDSEC", "SASG", "AdaptiveTopK"]
