"""Benchmarks that print figures (never asserted in timed tests).  Each module has
``main(argv) -> int``:

* :mod:`.default`: ``gossip bench default``, the default job under mpiexec and its figures;
* :mod:`.codec`: ``gossip bench codec``, every codec's rate and speed;
* :mod:`.fuzz`: ``gossip bench fuzz``, hostile messages into every decoder;
* :mod:`.dither`: quantization error of plain against subtractive dither on real residuals;
* :mod:`.checkpoint`: time to write and to load a checkpoint set.
"""
