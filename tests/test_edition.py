"""The book's edition and its address, each set in one place and followed everywhere.

- The version and its date are minivlm's `__version__` and `__date__`: the package, every
  page's footer, the intro's citation, CITATION.cff and the errata page agree with them.
- CITATION.cff is valid Citation File Format (its schema, version 1.2.0, is in tests/data).
- The repository is _config.yml's `repository.url`: the Colab and repository buttons, the
  install cell of every chapter and notebook, CITATION.cff and the README follow it.
- Every page of both builds states the licences: text and figures CC BY-SA 4.0, code MIT.

The tests on built pages need `make book` and `make students` first; `make test` runs them.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
import sys
from pathlib import Path

import jsonschema
import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup

import minivlm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import edition  # noqa: E402  (_ext/edition.py)
import notebooks  # noqa: E402  (_ext/notebooks.py)

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPOSITORY = CONFIG["repository"]["url"].rstrip("/")
CITATION = yaml.safe_load((ROOT / "CITATION.cff").read_text())
SCHEMA = json.loads((ROOT / "tests" / "data" / "citation-file-format-1.2.0.json").read_text())
BUILDS = {"book": ROOT / "_build" / "html", "students": ROOT / "_build/students/_build/html"}
CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))


def cff_errors(citation: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(
        SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    return [
        f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(citation)
    ]


def built_pages(build: str) -> list[Path]:
    root = BUILDS[build]
    # every page but the index, which only sends the browser on to the first page
    pages = [
        p
        for p in root.rglob("*.html")
        if "_static" not in p.parts and p.name not in ("genindex.html", "index.html")
    ]
    if not pages:
        pytest.fail(f"{root.relative_to(ROOT)} is empty: run `make book` and `make students` first")
    return sorted(pages)


# --- the version -------------------------------------------------------------------------


def test_the_version_is_calendar_versioning_of_its_own_date():
    version, day = edition.edition()
    assert (version, day.isoformat()) == (minivlm.__version__, minivlm.__date__)
    match = re.fullmatch(r"(\d{4})\.(1[0-2]|[1-9])(\.[1-9]\d*)?(\.dev\d+)?", version)
    assert match, f"{version!r} is not year.month or year.month.correction (.devN in development)"
    assert (int(match[1]), int(match[2])) == (day.year, day.month), (version, day)


def test_the_edition_reader_names_what_is_missing(tmp_path):
    init = tmp_path / "__init__.py"
    init.write_text('__version__ = "2026.11"\n')
    with pytest.raises(ValueError, match=r"must assign \['__date__'\] as string constants"):
        edition.edition(init)
    assert edition.in_words(datetime.date(2026, 3, 1)) == "1 March 2026"


def test_citation_cff_gives_the_books_title_and_author_as_the_pages_cite_them():
    for cited in (CITATION, CITATION["preferred-citation"]):
        assert cited["title"] == CONFIG["title"]
        assert cited["authors"] == [{"name": CONFIG["author"]}]


def test_citation_cff_and_the_errata_page_give_the_packages_version_and_date():
    version, day = minivlm.__version__, minivlm.__date__
    if ".dev" in version:  # in development: the citation and the errata stay at the last one
        assert ".dev" not in CITATION["version"]
        pytest.skip(f"{version} is in development: CITATION.cff cites {CITATION['version']}")
    assert CITATION["version"] == version and CITATION["date-released"] == day
    preferred = CITATION["preferred-citation"]
    assert preferred["edition"] == version
    assert (preferred["year"], preferred["month"]) == (int(day[:4]), int(day[5:7]))
    # the errata page lists the versions newest first, each under "## <version> (<date>)"
    headings = re.findall(r"^## (\S+) \((.+)\)$", (ROOT / "errata.md").read_text(), re.M)
    assert headings and headings[0] == (
        version,
        edition.in_words(datetime.date.fromisoformat(day)),
    ), headings


# --- CITATION.cff ------------------------------------------------------------------------


def test_citation_cff_is_valid_citation_file_format():
    assert cff_errors(CITATION) == []


def test_the_cff_check_fails_on_a_file_that_breaks_the_format():
    broken = copy.deepcopy(CITATION)
    del broken["authors"]
    broken["date-released"] = "30 November 2026"
    broken["license"] = ["CC-BY-SA-4.0", "a licence of our own"]
    errors = "\n".join(cff_errors(broken))
    assert "'authors' is a required property" in errors
    assert "date-released" in errors and "license" in errors, errors


# --- the repository, in one place --------------------------------------------------------


def test_citation_cff_and_the_readme_name_the_configured_repository():
    assert CITATION["repository-code"] == REPOSITORY
    assert CITATION["preferred-citation"]["repository-code"] == REPOSITORY
    assert CITATION["url"] == CONFIG["html"]["baseurl"]
    readme = (ROOT / "README.md").read_text()
    named = {u.rstrip(".") for u in re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", readme)}
    assert named == {REPOSITORY}, named


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_and_its_notebook_install_from_the_configured_repository(md):
    installs = notebooks.INSTALL.findall(md.read_text())
    committed = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    installs += [
        found
        for c in committed.cells
        if c.cell_type == "code"
        for found in notebooks.INSTALL.findall(c.source)
    ]
    # at this version's tag: a notebook of version 2026.11 installs the package of 2026.11
    assert installs == [(REPOSITORY, notebooks.install_ref())] * 2, installs


def test_a_chapter_is_pointed_at_a_moved_repository():
    ref = notebooks.install_ref()
    for elsewhere in (
        '"minivlm[book] @ git+https://github.com/someone/a-fork"\n"#subdirectory=code"',
        '"minivlm[book] @ git+https://github.com/someone/a-fork@v2025.1"\n"#subdirectory=code"',
    ):
        followed = notebooks.follow_repository(elsewhere)
        assert followed == f'"minivlm[book] @ git+{REPOSITORY}@{ref}"\n"#subdirectory=code"'


def test_a_version_installs_from_its_tag_and_a_version_in_development_from_the_branch():
    assert edition.install_ref("2026.11") == "v2026.11"
    assert edition.install_ref("2026.11.1", "main") == "v2026.11.1"
    assert edition.install_ref("2026.12.dev0", "main") == "main"
    assert edition.install_ref("2026.12.dev3", "trunk") == "trunk"
    assert notebooks.install_ref() == edition.install_ref(minivlm.__version__)


@pytest.mark.parametrize("build", BUILDS)
def test_the_launch_and_repository_buttons_follow_the_configured_repository(build):
    owner_name = REPOSITORY.removeprefix("https://github.com/")
    for path in built_pages(build):
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        links = [a["href"] for a in soup.select("a[href]")]
        # the repository button, the issue button, the code's licence in the footer
        assert REPOSITORY in links, path.name
        assert any(h.startswith(f"{REPOSITORY}/issues/new?") for h in links), path.name
        assert f"{REPOSITORY}/blob/main/LICENSE" in links, path.name
        colab = [h for h in links if "colab.research.google.com" in h]
        assert all(
            h.startswith(f"https://colab.research.google.com/github/{owner_name}/") for h in colab
        )
        # a chapter's Colab button opens its notebook, solutions included: none for students
        if path.parent.name == "chapters":
            assert bool(colab) == (build == "book"), (build, path.name, colab)


# --- every page: the edition and the licences ---------------------------------------------


@pytest.mark.parametrize("build", BUILDS)
def test_every_page_states_the_edition_and_the_licences(build):
    version, day = edition.edition()
    for path in built_pages(build):
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        footer = soup.select_one("footer .edition")
        assert footer is not None, f"{path.name} has no edition in its footer"
        text = " ".join(footer.get_text(" ").split())
        assert f"version {version}, {edition.in_words(day)}" in text, text
        licences = {a.get_text(): a["href"] for a in footer.select("a[rel=license]")}
        assert licences == {
            "CC BY-SA 4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
            "MIT": f"{REPOSITORY}/blob/main/LICENSE",
        }, licences
        assert "{{" not in soup.get_text(), f"{path.name}: a substitution left unresolved"


def test_the_intro_says_how_to_cite_the_book():
    soup = BeautifulSoup((BUILDS["book"] / "intro.html").read_text(encoding="utf-8"), "html.parser")
    section = soup.select_one("section#how-to-cite-and-reuse")
    assert section is not None, "the intro has no 'How to cite and reuse' section"
    quote = " ".join(section.select_one("blockquote").get_text().split())
    version, day = edition.edition()
    assert f"VLM Foundations, version {version}, {edition.in_words(day)}" in quote, quote
    assert CONFIG["html"]["baseurl"] in quote
    ref = edition.install_ref(version)
    assert edition.install_command(REPOSITORY, ref) in " ".join(section.get_text().split())


def test_the_licence_files_are_those_the_pages_name():
    text = (ROOT / "LICENSE-TEXT").read_text()
    code = (ROOT / "LICENSE").read_text()
    assert "Creative Commons Attribution-ShareAlike 4.0 International Public License" in text
    assert "Section 8 – Interpretation." in text  # the legal code whole, to its last section
    assert code.startswith("MIT License")
