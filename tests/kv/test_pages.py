"""The page store: RAM and disk give the same pages; saved stores reopen."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lcmem.kv.pages import PageStore


def _fill(store: PageStore, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    s = store.shape
    k = rng.standard_normal((s.layers, s.heads, s.tokens, s.head_dim)).astype(np.float32)
    v = rng.standard_normal(k.shape).astype(np.float32)
    for layer in range(s.layers):
        for start in range(0, s.tokens, 8):
            store.write(
                layer, start, k[layer, :, start : start + 8], v[layer, :, start : start + 8]
            )
    return k, v


def test_disk_and_ram_stores_agree(tmp_path: Path) -> None:
    ram = PageStore.create(2, 3, 21, 4, page_size=4)
    disk = PageStore.create(2, 3, 21, 4, page_size=4, memory_budget=0, folder=tmp_path / "d")
    assert ram.resident and not disk.resident
    k, v = _fill(ram, np.random.default_rng(1))
    _fill(disk, np.random.default_rng(1))
    ranges = [[(0, 4), (8, 12), (16, 21)], [(4, 8), (12, 16), (16, 21)], [(0, 13)]]
    for store in (ram, disk):
        gk, gv = store.gather(1, ranges)
        assert np.array_equal(gk[1], np.concatenate([k[1, 1, 4:8], k[1, 1, 12:21]]))
        assert np.array_equal(gv[2], v[1, 2, 0:13])
    assert np.array_equal(ram.kmin, disk.kmin) and np.array_equal(ram.kmax, disk.kmax)
    assert np.array_equal(ram.kmax[0, 0, 5], k[0, 0, 20])  # the partial last page


def test_save_and_open_round_trip(tmp_path: Path) -> None:
    store = PageStore.create(1, 2, 16, 4, page_size=4, dtype="float16")
    k, _ = _fill(store, np.random.default_rng(2))
    store.save(tmp_path)
    for budget in (None, 0):  # back into RAM, or left on disk
        again = PageStore.open(tmp_path, store.shape, budget)
        gk, _ = again.gather(0, [[(0, 16)], [(0, 16)]])
        assert np.allclose(gk[0], k[0, 0], atol=1e-2)
        assert again.resident == (budget is None)
