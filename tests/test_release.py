"""The release bundle (`make release`, _ext/release.py): its files, their checksums, and the
offline book, unzipped elsewhere and read in the browser with the network off.

`make test` runs `make release` first.
"""

from __future__ import annotations

import datetime
import hashlib
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from test_browser import BROKEN_IMAGES, Visit, visible_text

import minivlm

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
STEM = f"vlm-foundations-{minivlm.__version__}"
FILES = [
    f"{STEM}-html.zip",
    f"{STEM}-students-html.zip",
    f"{STEM}-notebooks.zip",
    f"{STEM}.pdf",
    "SHA256SUMS",
]
sys.path.insert(0, str(ROOT / "_ext"))
import local_web  # noqa: E402  (_ext/local_web.py: a local web server)
import release  # noqa: E402  (_ext/release.py)


def dist(name: str) -> Path:
    path = DIST / name
    if not path.exists():
        pytest.fail(f"dist/{name} is missing: run `make release` first")
    return path


def test_the_bundle_holds_the_book_the_students_build_the_pdf_the_notebooks_and_checksums():
    assert sorted(p.name for p in DIST.iterdir()) == sorted(FILES)
    sums = dict(reversed(line.split("  ")) for line in dist("SHA256SUMS").read_text().splitlines())
    assert set(sums) == set(FILES) - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256(dist(name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("suffix", ["html", "students-html", "notebooks"])
def test_each_zip_unpacks_into_one_folder_of_its_name(suffix):
    with zipfile.ZipFile(dist(f"{STEM}-{suffix}.zip")) as z:
        names = z.namelist()
    assert {n.split("/")[0] for n in names} == {f"{STEM}-{suffix}"}
    inside = {n.split("/", 1)[1] for n in names}
    notes = {"README.txt", "LICENSE", "LICENSE-TEXT", "CITATION.cff"}
    assert notes <= inside, f"what lets the files travel on their own: {notes - inside}"
    if suffix == "notebooks":
        chapters = {p.name for p in (ROOT / "chapters").glob("*.ipynb")}
        assert inside == chapters | {f"students/{c}" for c in chapters} | notes
    else:
        assert {"index.html", "intro.html", "chapters/clip.html"} <= inside
        assert ("instructors.html" in inside) == (suffix == "html")


@pytest.mark.parametrize("suffix", ["html", "students-html", "notebooks"])
def test_each_zip_says_what_it_holds_its_version_and_its_licences(suffix):
    with zipfile.ZipFile(dist(f"{STEM}-{suffix}.zip")) as z:
        readme = z.read(f"{STEM}-{suffix}/README.txt").decode()
        for name in ("LICENSE", "LICENSE-TEXT", "CITATION.cff"):
            assert z.read(f"{STEM}-{suffix}/{name}") == (ROOT / name).read_bytes(), name
    assert f"version {minivlm.__version__} of " in readme.splitlines()[0]
    for phrase in ("CC BY-SA 4.0", "MIT", "LICENSE-TEXT", "CITATION.cff", "Repository: https://"):
        assert phrase in readme, phrase
    assert ("index.html" in readme) == (suffix != "notebooks")
    assert ("without the solutions" in readme) == (suffix != "html")


def test_the_bundle_installs_and_opens_this_versions_tag_not_the_main_branch():
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    github = repository.removeprefix("https://github.com/")
    tag = release.ref()
    assert tag == f"v{minivlm.__version__}"  # a published version, not one in development
    with zipfile.ZipFile(dist(f"{STEM}-html.zip")) as z:
        page = z.read(f"{STEM}-html/chapters/clip.html").decode()
    assert f"colab.research.google.com/github/{github}/blob/{tag}/chapters/clip.ipynb" in page
    assert f'git+{repository}@{tag}"' in page  # the install cell, as Pygments writes it
    assert "/blob/main/chapters/" not in page
    with zipfile.ZipFile(dist(f"{STEM}-notebooks.zip")) as z:
        notebooks = [n for n in z.namelist() if n.endswith(".ipynb")]
        assert len(notebooks) == 2 * len(list((ROOT / "chapters").glob("*.ipynb")))
        for name in notebooks:
            source = z.read(name).decode()
            assert f'git+{repository}@{tag}\\"' in source, name
    # and the PDF's: the instructors' pages link each chapter's notebook in Colab
    from pypdf import PdfReader

    uris = [
        str(a.get_object()["/A"]["/URI"])
        for page in PdfReader(dist(f"{STEM}.pdf")).pages
        for a in page.get("/Annots", [])
        if "/URI" in a.get_object().get("/A", {})
    ]
    colab = [u for u in uris if "colab.research.google.com" in u]
    assert colab and all(f"/blob/{tag}/" in u for u in colab), colab
    # pin moves the Colab links and nothing else
    link = f"https://colab.research.google.com/github/{github}/blob/main/chapters/x.ipynb"
    assert release.pin(link) == link.replace("/blob/main/", f"/blob/{tag}/")
    assert release.pin(f'"x @ git+{repository}@main"') == f'"x @ git+{repository}@main"'


def test_the_students_zip_holds_no_solution():
    with zipfile.ZipFile(dist(f"{STEM}-students-html.zip")) as z:
        names = z.namelist()
        assert not [n for n in names if "/_sources/" in n or n.endswith((".md", ".ipynb"))]
        for name in names:
            if name.endswith((".html", ".js", ".txt")):
                text = z.read(name).decode("utf-8", errors="replace")
                assert "solution-start" not in text and "Solution to Exercise" not in text, name


def test_a_zip_of_the_same_files_is_the_same_bytes(tmp_path):
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / "a.txt").write_text("a")
    files = release.tree(tmp_path)
    day = datetime.date.fromisoformat(minivlm.__date__)
    zips = [tmp_path / "one.zip", tmp_path / "two.zip"]
    release.deterministic_zip(zips[0], "x", files, day)
    release.deterministic_zip(zips[1], "x", list(reversed(files)), day)
    assert zips[0].read_bytes() == zips[1].read_bytes()
    with zipfile.ZipFile(zips[0]) as z:
        assert z.namelist() == ["x/a.txt", "x/b.txt"]


@pytest.fixture(scope="module")
def unzipped(tmp_path_factory):
    """The offline book, unzipped into a folder of its own, away from the checkout, and a
    local server for it."""
    folder = tmp_path_factory.mktemp("reader")
    with zipfile.ZipFile(dist(f"{STEM}-html.zip")) as z:
        z.extractall(folder)

    with local_web.serve(folder / f"{STEM}-html") as url:
        yield url


@pytest.mark.parametrize("rel", ["intro.html", "chapters/attention.html", "references.html"])
def test_the_unzipped_book_reads_whole_with_the_network_off(browser, unzipped, rel):
    # Visit refuses every request that does not go to the local server: the network is off
    visit = Visit(browser, f"{unzipped}/{rel}")
    page = visit.page
    text = visible_text(page)
    assert "$$" not in text and "\\frac" not in text, f"{rel}: math left untypeset"
    assert not page.evaluate(BROKEN_IMAGES), f"{rel}: images that do not load"
    assert not visit.errors, f"{rel}: console errors {visit.errors}"
    assert not visit.outside and not visit.failed, (visit.outside, visit.failed)
    if rel.startswith("chapters/"):
        assert page.locator("mjx-container").count() > 0
        assert page.locator("figure img").count() > 0
    visit.close()
