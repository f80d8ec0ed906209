"""The release bundle: what a reader, an instructor or a library keeps of one version.

    python _ext/release.py --out dist

`make release` builds the book, the students' build and the PDF, then runs this, which
writes into dist/, each name with the version (minivlm.__version__):

- vlm-foundations-<version>-html.zip: the book, which reads whole offline: unzip it and
  open index.html;
- vlm-foundations-<version>-students-html.zip: the build without solutions;
- vlm-foundations-<version>.pdf: the book as one PDF;
- vlm-foundations-<version>-notebooks.zip: the chapters' notebooks, and in students/ the
  notebooks without solutions;
- SHA256SUMS: the checksum of each, as `sha256sum --check` reads them.

Each zip holds one folder named like the zip, its files in a fixed order with the version's
date as their time, so that the same build makes the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import edition  # noqa: E402  (_ext/edition.py: the version and its date)

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
NAME = "vlm-foundations"


def deterministic_zip(out: Path, folder: str, files: list[tuple[Path, str]], day) -> None:
    """A zip of `files` (source, path inside `folder`), sorted, each dated `day`."""
    stamp = (day.year, day.month, day.day, 0, 0, 0)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for source, inside in sorted(files, key=lambda f: f[1]):
            info = zipfile.ZipInfo(f"{folder}/{inside}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, source.read_bytes())


def tree(root: Path) -> list[tuple[Path, str]]:
    if not root.is_dir():
        raise SystemExit(f"{root.relative_to(ROOT)} is missing: `make release` builds it first")
    return [(p, p.relative_to(root).as_posix()) for p in root.rglob("*") if p.is_file()]


def built_site(root: Path) -> list[tuple[Path, str]]:
    """The files of a built site, without the figures that no page shows any more: a build
    that is not the first keeps those of the chapters' earlier runs in _images/."""
    files = tree(root)
    pages = "".join(p.read_text(encoding="utf-8") for p, _ in files if p.suffix == ".html")
    return [
        (p, inside) for p, inside in files if not inside.startswith("_images/") or p.name in pages
    ]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle(out: Path) -> list[Path]:
    version, day = edition.edition()
    stem = f"{NAME}-{version}"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    written = []
    for suffix, root in (
        ("html", BUILD / "html"),
        ("students-html", BUILD / "students/_build/html"),
    ):
        path = out / f"{stem}-{suffix}.zip"
        deterministic_zip(path, f"{stem}-{suffix}", built_site(root), day)
        written.append(path)
    notebooks = [(p, p.name) for p in sorted((ROOT / "chapters").glob("*.ipynb"))]
    notebooks += [(p, f"students/{name}") for p, name in tree(BUILD / "students" / "notebooks")]
    path = out / f"{stem}-notebooks.zip"
    deterministic_zip(path, f"{stem}-notebooks", notebooks, day)
    written.append(path)
    pdf = BUILD / "pdf" / f"{NAME}.pdf"
    if not pdf.exists():
        raise SystemExit(f"{pdf.relative_to(ROOT)} is missing: `make pdf` writes it")
    written.append(Path(shutil.copy2(pdf, out / f"{stem}.pdf")))
    sums = out / "SHA256SUMS"
    sums.write_text("".join(f"{sha256(p)}  {p.name}\n" for p in written))
    return [*written, sums]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="the folder to write")
    args = parser.parse_args(argv)
    for path in bundle(args.out):
        print(f"{path.name}: {path.stat().st_size / 2**20:.1f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
