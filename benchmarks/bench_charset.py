"""Decoding of non-UTF-8 text files: how often the exact text comes back.

Cases are real text on this machine, in legacy encodings:

- ``western``: UTF-8 files under /usr/share/doc and the Python install with at least 3
  non-ASCII characters that cp1252 can encode (names like "François", "Jérôme", "©"),
  encoded as cp1252 and, where possible, latin-1; first 20,000 characters.
- ``cyrillic``: such files that cp1251 can encode, encoded as cp1251 and koi8-r.
- ``cjk``: CPython's ``test/cjkencodings/NAME.txt`` next to its ``NAME-utf8.txt`` reference.
- ``native``: files shipped in a legacy encoding whose true text is known (``ed/AUTHORS`` is
  latin-1, CPython's ``module_iso_8859_1.py`` and ``module_koi8_r.py``).

A case is right when the decoded text equals the reference (after newline normalisation).
Policies: ``utf8-replace`` (lcmem before: UTF-8 with U+FFFD), ``cn-best``
(charset-normalizer's best guess, as is) and ``lcmem`` (:func:`lcmem.loaders.text.decode_text`).
Cases are split into dev and test by a hash of their file path; tune on dev only.

Run: ``.venv/bin/python benchmarks/bench_charset.py``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lcmem.loaders.text import decode_text, normalize_newlines

DOC_ROOTS = ("/usr/share/doc", sys.base_prefix + "/lib/python3.11")
CJK = Path(sys.base_prefix) / "lib/python3.11/test/cjkencodings"
SKIP_SUFFIXES = (".gz", ".pyc", ".so", ".png", ".jpg", ".gif", ".zip", ".exe", ".whl", ".bz2")


@dataclass(frozen=True)
class Case:
    family: str
    name: str
    encoding: str
    data: bytes
    text: str

    @property
    def split(self) -> str:
        digest = hashlib.sha1(self.name.encode()).digest()[0]
        return "dev" if digest % 2 == 0 else "test"


def _utf8_files(max_chars: int = 20_000) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for root in DOC_ROOTS:
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for f in sorted(files):
                path = os.path.join(folder, f)
                if f.endswith(SKIP_SUFFIXES) or os.path.islink(path):
                    continue
                try:
                    with open(path, "rb") as fh:
                        text = fh.read(200_000).decode("utf-8")[:max_chars]
                except (OSError, UnicodeDecodeError):
                    continue
                if sum(ord(c) > 127 for c in text) >= 3 and "\x00" not in text:
                    found.append((path, text))
    return found


def cases() -> list[Case]:
    out: list[Case] = []
    for path, text in _utf8_files():
        for family, encodings in (
            ("western", ("cp1252", "latin-1")),
            ("cyrillic", ("cp1251", "koi8-r")),
        ):
            for enc in encodings:
                try:
                    data = text.encode(enc)
                except UnicodeEncodeError:
                    continue
                out.append(Case(family, f"{path}:{enc}", enc, data, text))
            if any(c.name.startswith(path + ":") for c in out):
                break  # a file is western or cyrillic, not both
    for ref in sorted(CJK.glob("*-utf8.txt")):
        legacy = ref.with_name(ref.name.replace("-utf8", ""))
        if legacy.exists():
            text = ref.read_bytes().decode("utf-8")
            out.append(Case("cjk", str(legacy), legacy.stem, legacy.read_bytes(), text))
    native = [
        ("/usr/share/doc/ed/AUTHORS", "latin-1"),
        (
            str(Path(sys.base_prefix) / "lib/python3.11/test/encoded_modules/module_iso_8859_1.py"),
            "latin-1",
        ),
        (
            str(Path(sys.base_prefix) / "lib/python3.11/test/encoded_modules/module_koi8_r.py"),
            "koi8-r",
        ),
    ]
    for path, enc in native:
        if os.path.exists(path):
            data = Path(path).read_bytes()
            out.append(Case("native", path, enc, data, data.decode(enc)))
    return out


def utf8_replace(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def cn_best(data: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return str(best) if best is not None else data.decode("utf-8", errors="replace")


def lcmem_decode(data: bytes) -> str:
    return decode_text(data, "x")[0]


POLICIES: dict[str, Callable[[bytes], str]] = {
    "utf8-replace": utf8_replace,
    "cn-best": cn_best,
    "lcmem": lcmem_decode,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--show-wrong", action="store_true", help="list lcmem's misses")
    args = parser.parse_args()
    all_cases = cases()
    splits = ("dev", "test") if args.split == "both" else (args.split,)
    print(f"{len(all_cases)} cases")
    print("| split | family | cases | " + " | ".join(POLICIES) + " | lcmem ms/case |")
    print("|---|---|---:|" + "---:|" * len(POLICIES) + "---:|")
    for split in splits:
        mine = [c for c in all_cases if c.split == split]
        for family in ("western", "cyrillic", "cjk", "native", "all"):
            group = [c for c in mine if family in ("all", c.family)]
            if not group:
                continue
            cells = []
            seconds = 0.0
            for name, policy in POLICIES.items():
                right = 0
                for case in group:
                    started = time.perf_counter()
                    got = policy(case.data)
                    if name == "lcmem":
                        seconds += time.perf_counter() - started
                    right += normalize_newlines(got) == normalize_newlines(case.text)
                    if (
                        args.show_wrong
                        and name == "lcmem"
                        and family == "all"
                        and (normalize_newlines(got) != normalize_newlines(case.text))
                    ):
                        print(f"  wrong: {case.name} ({case.encoding})")
                cells.append(f"{right}/{len(group)} ({right / len(group):.0%})")
            print(
                f"| {split} | {family} | {len(group)} | "
                + " | ".join(cells)
                + f" | {1000 * seconds / len(group):.1f} |"
            )


if __name__ == "__main__":
    main()
