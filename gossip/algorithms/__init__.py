"""Algorithms: compose compressors, codecs and a communicator into one gossip round."""

from .base import Algorithm, RoundInfo
from .malcom import MalcomPSGD

__all__ = ["Algorithm", "RoundInfo", "MalcomPSGD"]
