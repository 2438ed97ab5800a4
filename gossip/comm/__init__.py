"""Communicators: MPI (one rank per process) and in-process (all ranks in one process)."""

from .base import ByteCounter, Communicator
from .inprocess import InProcessCommunicator

__all__ = ["ByteCounter", "Communicator", "InProcessCommunicator"]
