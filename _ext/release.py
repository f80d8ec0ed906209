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
date as their time, so that the same build makes the same bytes. Each folder also holds
what lets its files travel on their own: a README.txt that says what they are and how to
open them, the licences (LICENSE for the code, LICENSE-TEXT for the text and figures) and
CITATION.cff.

The bundle is pinned to its version: the notebooks install the package from the
repository's tag v<version> (their install cell says so, as `make prose` writes it), and the
pages' Colab buttons open the notebooks at that tag rather than on the main branch, which
moves on. Publishing a version tags it (.github/workflows/release.yml). A version in
development (2026.12.dev0) has no tag: its bundle points at the branch.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import shutil
import sys
import textwrap
import zipfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import edition  # noqa: E402  (_ext/edition.py: the version and its date)
import notebooks  # noqa: E402  (_ext/notebooks.py: the ref the notebooks install from)

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
NAME = "vlm-foundations"
LEGAL = ["LICENSE", "LICENSE-TEXT", "CITATION.cff"]  # beside the files of every zip
OTHERS = (
    "Material from others keeps its own terms: the photograph of Grace Hopper, a US Navy "
    "photograph in the public domain (matplotlib's sample data), and the handwritten digits, "
    "the UCI repository's Optical Recognition of Handwritten Digits (Alpaydin and Kaynak, "
    "1998), in scikit-learn's copy."
)
WHAT = {
    "html": "The book as web pages that read offline, without a network: open index.html in "
    "a browser.",
    "students-html": "The students' edition of the book, without the solutions, as web pages "
    "that read offline: open index.html in a browser.",
    "notebooks": "The chapters as Jupyter notebooks, with the outputs of the book's run, for "
    "Jupyter or Google Colab; students/ holds them without the solutions. A notebook's first "
    "cell installs the book's package, minivlm, when it is not installed.",
}


@functools.cache
def book_config() -> dict:
    """_config.yml, read once: every page of both builds is pinned with it."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())


@functools.cache
def ref() -> str:
    """Where this version lives in the repository: its tag v<version>, or the branch for a
    version in development, which has no tag; the ref the notebooks' install cell names."""
    return notebooks.install_ref()


def pin(text: str) -> str:
    """`text` (a page) with its Colab links opening the notebooks at this version's tag
    rather than on the branch, which moves on. (The notebooks' install cell names the tag
    already: `make prose` writes it.)"""
    config = book_config()
    github = config["repository"]["url"].rstrip("/").removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    return text.replace(
        f"colab.research.google.com/github/{github}/blob/{branch}/",
        f"colab.research.google.com/github/{github}/blob/{ref()}/",
    )


def pinned(files: list[tuple[Path, str]]) -> list[tuple[Path | bytes, str]]:
    """`files` with their pages and notebooks pinned to this version (`pin`)."""
    return [
        (pin(p.read_text(encoding="utf-8")).encode(), inside)
        if p.suffix == ".html"
        else (p, inside)
        for p, inside in files
    ]


def pinned_pdf(source: Path, out: Path) -> Path:
    """The PDF with its links pinned as the pages' are (`pin`): the instructors' pages link
    each chapter's notebook in Colab."""
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    writer = PdfWriter(clone_from=str(source))
    for page in writer.pages:
        for annotation in page.get("/Annots", []):
            action = annotation.get_object().get("/A")
            if action is not None and "/URI" in action:
                action[NameObject("/URI")] = TextStringObject(pin(str(action["/URI"])))
    with open(out, "wb") as f:
        writer.write(f)
    return out


def readme(suffix: str) -> bytes:
    """README.txt of a zip: what it holds, the version, where the book lives, the licences."""
    config = book_config()
    version, day = edition.edition()
    licence, licence_url = edition.TEXT_LICENCE
    lines = [
        f"{config['title']}, version {version} of {edition.in_words(day)}",
        "",
        *textwrap.wrap(WHAT[suffix], 88),
        "",
        f"Online: {config['html']['baseurl']}",
        f"Repository: {config['repository']['url']}, this version at {ref()}",
        "",
        f"Text and figures: {licence} ({licence_url}), in LICENSE-TEXT.",
        f"Code: the {edition.CODE_LICENCE} licence, in LICENSE.",
        *textwrap.wrap(OTHERS, 88),
        "To cite the book: CITATION.cff.",
    ]
    return "\n".join(lines).encode() + b"\n"


def with_notes(files: list[tuple[Path | bytes, str]], suffix: str):
    """`files` with the README.txt, the licences and the citation file beside them."""
    return [*files, (readme(suffix), "README.txt"), *((ROOT / n, n) for n in LEGAL)]


def deterministic_zip(out: Path, folder: str, files: list[tuple[Path | bytes, str]], day) -> None:
    """A zip of `files` (a source file or its bytes, its path inside `folder`), sorted by
    path, each dated `day`."""
    stamp = (day.year, day.month, day.day, 0, 0, 0)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for source, inside in sorted(files, key=lambda f: f[1]):
            info = zipfile.ZipInfo(f"{folder}/{inside}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, source if isinstance(source, bytes) else source.read_bytes())


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
        deterministic_zip(
            path, f"{stem}-{suffix}", with_notes(pinned(built_site(root)), suffix), day
        )
        written.append(path)
    notebooks = [(p, p.name) for p in sorted((ROOT / "chapters").glob("*.ipynb"))]
    notebooks += [(p, f"students/{name}") for p, name in tree(BUILD / "students" / "notebooks")]
    path = out / f"{stem}-notebooks.zip"
    deterministic_zip(path, f"{stem}-notebooks", with_notes(pinned(notebooks), "notebooks"), day)
    written.append(path)
    pdf = BUILD / "pdf" / f"{NAME}.pdf"
    if not pdf.exists():
        raise SystemExit(f"{pdf.relative_to(ROOT)} is missing: `make pdf` writes it")
    written.append(pinned_pdf(pdf, out / f"{stem}.pdf"))
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
