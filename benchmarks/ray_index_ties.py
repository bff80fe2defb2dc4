"""Why two finished libraries of ``bench_ray_index.py`` differ in a top-10 list: the differing
ranks with their scores (issue 18's 2,000-page run: only exactly equal scores swap).

Run while that benchmark's PostgreSQL server is still up (after its Ray x2 pass):
``PYTHONPATH=. .venv/bin/python benchmarks/ray_index_ties.py`` (it finds the server's port
from ``ps``; the libraries are ``b_all_0_local`` and ``b_all_0_ray2``).
"""

import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_index import man_pages
from bench_ray_index import description

import lcmem

ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
port = re.search(r"-D /tmp/lcmem-bench-pg-\S+/data -p (\d+)", ps).group(1)
base = f"postgresql+psycopg://lcmem@127.0.0.1:{port}/"
idx = Path(__file__).resolve().parent / ".work" / "ray_index" / "idx"
pages = man_pages(2000)
queries = [d for p in pages if (d := description(p.read_text(errors="replace")))][:100]
a = lcmem.open(url=base + "b_all_0_local", index_dir=idx / "b_all_0_local")
b = lcmem.open(url=base + "b_all_0_ray2", index_dir=idx / "b_all_0_ray2")
for mode in ("dense", "hybrid"):
    for q in queries:
        ha = a.search(q, k=10, mode=mode)
        hb = b.search(q, k=10, mode=mode)
        ka = [(Path(h.path).name, h.chunk.start) for h in ha]
        kb = [(Path(h.path).name, h.chunk.start) for h in hb]
        if ka != kb:
            i = next(j for j in range(min(len(ka), len(kb))) if ka[j] != kb[j])
            print(mode, repr(q), "first diff at rank", i + 1, "same set:", set(ka) == set(kb))
            for j in range(max(0, i - 1), min(10, i + 2)):
                print("   ", j + 1, ka[j], f"{ha[j].score:.8f}", "|", kb[j], f"{hb[j].score:.8f}")
