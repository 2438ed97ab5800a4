"""Tools built on top of gossip: benchmarks a user runs on their own machine."""
