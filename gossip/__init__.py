"""gossip: decentralized, communication-efficient training over MPI (Malcom-PSGD and peers)."""

__version__ = "0.1.0"
