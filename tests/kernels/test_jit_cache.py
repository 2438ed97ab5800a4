"""The kernels' numba cache follows their sources: numba alone checks a cached function
against its own file only, so an edit to a callee in another file would leave a stale caller."""

from gossip.kernels import _jit


def _sources(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "vsc_walk.py").write_text("x = 1\n")
    (src / "vsc_packed.py").write_text("y = 2\n")
    return src


def test_a_source_edit_removes_the_cache_entries_of_these_modules(tmp_path):
    src, cache = _sources(tmp_path), tmp_path / "cache"
    cache.mkdir()
    mine = [cache / "vsc_packed.walk8-42.py311.nbi", cache / "vsc_packed.walk8-42.py311.1.nbc"]
    other = cache / "elsewhere.f-1.py311.nbi"  # not one of these modules: kept
    for p in [*mine, other]:
        p.write_bytes(b"stale")
    assert _jit.sync_cache(cache, src) == 2  # no stamp yet: the entries cannot be trusted
    assert not any(p.exists() for p in mine) and other.exists()
    assert (cache / _jit.STAMP).read_text() == _jit.source_digest(src)
    for p in mine:  # entries numba writes after that compile: kept while nothing changes
        p.write_bytes(b"fresh")
    assert _jit.sync_cache(cache, src) == 0 and all(p.exists() for p in mine)
    (src / "vsc_walk.py").write_text("x = 3\n")  # the callee changes, the caller's file not
    assert _jit.sync_cache(cache, src) == 2 and not any(p.exists() for p in mine)


def test_the_installed_cache_is_stamped_with_the_current_sources():
    folder = _jit.cache_dir()
    assert folder is not None
    assert (folder / _jit.STAMP).read_text() == _jit.source_digest()
