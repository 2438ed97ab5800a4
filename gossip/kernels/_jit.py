"""numba's ``njit`` for every kernel module, with the on-disk cache kept in step with the sources.

numba checks a cached function against the timestamp of its own file only, not against the
files of the kernels it calls: after an edit or a ``git pull`` that changes a callee in another
file, a caller's cache entry would keep the old callee compiled in, silently.  So, at import, a
digest of every kernel source (``gossip/kernels/*.py``) is compared with the one stored beside
numba's cache of these modules; when they differ, these modules' cache entries are removed
(they recompile on first use, or at once with ``python -m gossip.kernels``) and the new digest
is stored.  The cache directory is the one numba itself picks (``NUMBA_CACHE_DIR``, else the
package's ``__pycache__`` when writable, else numba's user-wide cache).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from numba import njit
from numba.core import caching

__all__ = ["njit", "sync_cache"]

HERE = Path(__file__).parent
STAMP = "gossip-kernels.digest"


def source_digest(folder: Path = HERE) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.glob("*.py")):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def cache_dir() -> Path | None:
    """Where numba caches the functions of this folder: the first of its locators that
    accepts a file here (numba's own order), or None."""
    def probe():
        pass

    for cls in caching.CacheImpl._locator_classes:
        try:
            loc = cls.from_function(probe, str(HERE / "_jit.py"))
        except Exception:  # noqa: BLE001 - a locator that cannot serve here
            loc = None
        if loc is not None:
            return Path(loc.get_cache_path())
    return None


def sync_cache(folder: Path | None = None, sources: Path = HERE) -> int:
    """Remove the cache entries of the modules in ``sources`` from ``folder`` (default:
    :func:`cache_dir`) unless its stamp holds their current digest -> entries removed."""
    folder = cache_dir() if folder is None else folder
    if folder is None:
        return 0
    digest = source_digest(sources)
    stamp = folder / STAMP
    try:
        if stamp.read_text() == digest:
            return 0
    except OSError:
        pass
    stems = {p.stem for p in sources.glob("*.py")}
    removed = 0
    try:
        for p in list(folder.glob("*.nbi")) + list(folder.glob("*.nbc")):
            if p.name.split(".", 1)[0] in stems:
                p.unlink(missing_ok=True)
                removed += 1
        tmp = folder / f"{STAMP}.{os.getpid()}"
        tmp.write_text(digest)
        os.replace(tmp, stamp)  # atomic: ranks starting together agree
    except OSError:
        pass  # a cache we cannot write: numba compiles in memory, nothing stale is read
    return removed


sync_cache()
