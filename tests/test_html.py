"""The built book, as a reader gets it: `make book` (and `make students`) must run first."""

import re
import sys
from pathlib import Path

import pybtex.database
import pytest
import yaml
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
STUDENTS = ROOT / "_build" / "students" / "_build" / "html"
# the repository as _config.yml names it, the one place it is set: owner/name
REPO = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].removeprefix(
    "https://github.com/"
)


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def page(html_root, name):
    path = html_root / f"{name}.html"
    if not path.exists():
        pytest.fail(
            f"{path.relative_to(ROOT)} is missing: run `make book` (and `make students`) first"
        )
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def main_text(soup):
    return soup.select_one("main, article, div.bd-article").get_text(" ")


def cited_keys():
    keys = set()
    for source in [ROOT / "intro.md", *sorted((ROOT / "chapters").glob("*.md"))]:
        for group in re.findall(r"\{cite(?::[pt])?\}`([^`]+)`", source.read_text()):
            keys.update(k.strip() for k in group.split(","))
    return keys


@pytest.mark.parametrize("name", toc_files())
def test_every_toc_page_is_built(name):
    soup = page(HTML, name)
    assert soup.title and soup.title.get_text().strip()


@pytest.mark.parametrize("name", toc_files())
def test_no_unresolved_roles_or_errors(name):
    soup = page(HTML, name)
    text = main_text(soup)
    for raw in (
        "{cite}",
        "{glue:",
        "{glue}",
        "{doc}",
        "{ref}",
        "{math}",
        "{exercise}",
        "{solution",
    ):
        assert raw not in text, f"{name}: unrendered {raw} left in the page"
    assert not soup.select(".output.traceback, .output.error, div.cell_output .traceback"), (
        f"{name}: a cell shows an error"
    )
    assert not soup.select(".output.stderr"), f"{name}: a cell wrote to stderr"
    assert "Traceback (most recent call last)" not in text
    assert not soup.select(".problematic, .system-message"), (
        f"{name}: docutils left a problem marker"
    )


def test_bibliography_renders_every_cited_key():
    entries = pybtex.database.parse_file(str(ROOT / "references.bib")).entries
    text = " ".join(main_text(page(HTML, "references")).split()).lower()
    keys = cited_keys()
    assert len(keys) >= 6
    unknown = sorted(keys - set(entries))
    assert not unknown, f"cited but not in references.bib: {unknown}"
    for key in sorted(keys):
        title = " ".join(entries[key].fields["title"].replace("{", "").replace("}", "").split())
        assert title.lower() in text, (
            f"{key}: its title {title!r} is not in the rendered bibliography"
        )


def reference_labels() -> dict[str, str]:
    """key -> the label of its entry on the references page, without the brackets."""
    entries = page(HTML, "references").select("div.citation")
    return {e["id"]: e.select_one("span.label").get_text().strip("[]") for e in entries}


def test_the_references_are_labelled_by_author_and_year_each_label_once():
    labels = reference_labels()
    assert labels["radford2021learning"] == "Radford et al., 2021"
    assert labels["alpaydin1998optical"] == "Alpaydin and Kaynak, 1998"
    assert labels["oord2018representation"] == "van den Oord et al., 2018"
    # two works of the same authors and year, lettered in the order of their titles
    assert (labels["li2023blip2"], labels["li2023evaluating"]) == (
        "Li et al., 2023a",
        "Li et al., 2023b",
    )
    assert len(set(labels.values())) == len(labels), "two works under one label"
    # in the order of the labels, as a reader looks one up
    order = [label.lower() for label in labels.values()]
    assert order == sorted(order), [o for o, s in zip(order, sorted(order)) if o != s][:3]


@pytest.mark.parametrize("name", [n for n in toc_files() if n.startswith("chapters/")])
def test_each_citation_shows_the_label_of_the_work_it_links_to(name):
    labels = reference_labels()
    for a in page(HTML, name).select("a[href*='references.html#']"):
        who, year = labels[a["href"].rpartition("#")[2]].rsplit(", ", 1)
        text = " ".join(a.get_text().split())
        # a textual citation, "Taori et al. [2020]", links its year only
        said = text if not text.isdigit() else " ".join(a.parent.get_text().split())
        surname = who.removesuffix(" et al.").split(" and ")[0].split()[-1]  # "van den Oord"
        assert surname in said, (said, who)
        assert re.search(rf"(?<!\d){year}(?![\da-z])", text), f"{text!r} is not {year}"


@pytest.mark.parametrize("name", [n for n in toc_files() if n.startswith("chapters/")])
def test_citations_link_to_the_bibliography(name):
    soup = page(HTML, name)
    links = [a["href"] for a in soup.select("a[href*='references.html#']")]
    assert links, f"{name} cites nothing"
    targets = {tag.get("id") for tag in page(HTML, "references").select("[id]")}
    broken = [href for href in links if href.split("#", 1)[1] not in targets]
    assert not broken, f"{name}: citation links to nowhere: {broken}"


@pytest.mark.parametrize("name", [n for n in toc_files() if n.startswith("chapters/")])
def test_chapter_has_colab_button_exercises_and_solutions(name):
    soup = page(HTML, name)
    colab = [a["href"] for a in soup.select("a[href*='colab.research.google.com']")]
    assert colab == [f"https://colab.research.google.com/github/{REPO}/blob/main/{name}.ipynb"], (
        colab
    )
    assert (ROOT / f"{name}.ipynb").exists()
    assert len(soup.select("div.exercise")) >= 3, f"{name}: fewer than three exercises"
    solutions = soup.select("div.solution")
    assert solutions and all("dropdown" in s.get("class", []) for s in solutions), (
        "solutions are drop-downs"
    )


@pytest.mark.parametrize("name", [n for n in toc_files() if n.startswith("chapters/")])
def test_students_build_has_exercises_and_no_solutions(name):
    soup = page(STUDENTS, name)
    assert len(soup.select("div.exercise")) >= 3
    assert not soup.select("div.solution"), f"{name}: the students' build still shows a solution"
    text = main_text(soup)
    assert "def my_" not in text, f"{name}: solution code leaked into the students' build"


def test_each_intro_tells_its_readers_where_the_solutions_are():
    """The book's intro points at the solutions, the Colab button and the PDF; the students'
    intro, in a build that has none of them, says nothing of them."""
    book, students = (" ".join(main_text(page(b, "intro")).split()) for b in (HTML, STUDENTS))
    for phrase in ("drop-downs", "launch button", "one PDF", "make students"):
        assert phrase in book, phrase
        assert phrase not in students, f"the students' intro still says {phrase!r}"
    assert "without solutions" in students and "your instructor" in students
    assert not page(STUDENTS, "intro").select("a[href$='.pdf']"), "a link to the full PDF"
    assert page(HTML, "intro").select("a[href$='.pdf']")


def test_glued_numbers_are_rendered():
    soup = page(HTML, "chapters/attention")
    text = main_text(soup)
    # the permutation-equivariance error is glued into the prose as a number
    assert re.search(r"outputs to\s+\d\.\de-\d\d", text), "glued numbers missing from the prose"


@pytest.mark.parametrize(
    "notebook", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.stem
)
def test_notebook_links_into_the_book_resolve(notebook):
    """The chapter notebooks link citations and cross-references to the book online: each
    such link names a page of this build, and an anchor that page has."""
    import nbformat

    base = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["baseurl"]
    prose = "\n".join(
        c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "markdown"
    )
    links = re.findall(r"\]\(" + re.escape(base) + r"([^)#\s]+)(?:#([^)\s]+))?\)", prose)
    assert links, f"{notebook.name} links nowhere into the book"
    for path, anchor in set(links):
        soup = page(HTML, path.removesuffix(".html"))
        if anchor:
            assert soup.find(id=anchor), f"{notebook.name}: {path}#{anchor} has no such anchor"


def test_instructors_page_describes_every_chapters_assignment():
    soup = page(HTML, "instructors")
    exercises = {}
    for md in sorted((ROOT / "chapters").glob("*.md")):
        exercises[md.stem] = re.findall(r"^:label: (\S+-ex-\S+)$", md.read_text(), re.M)
    tables = soup.select("main table, article table")
    assert len(tables) == len(exercises)
    links = [a["href"] for a in soup.select("main table a[href*='-ex-'], article table a")]
    for chapter, labels in exercises.items():
        for label in labels:
            assert f"chapters/{chapter}.html#{label}" in links, (chapter, label)
    text = main_text(soup)
    for phrase in ("check_conv2d", "the kernel is flipped", "the mask is inverted", "by hand"):
        assert phrase in text, phrase
    assert "After this chapter you can" in text  # the learning objectives
    # every mistake a checker names, whole: a "|" in a hint once cut its table cell short
    sys.path.insert(0, str(ROOT / "_ext"))
    import instructors  # _ext/instructors.py

    cells = " ".join(" ".join(td.get_text(" ").split()) for td in soup.select("main table td"))
    cells = cells.translate(str.maketrans("‘’“”", "''\"\""))  # Sphinx's smart quotes
    for md in sorted((ROOT / "chapters").glob("*.md")):
        for checker in re.findall(r"check_\w+", md.read_text()):
            for hint in instructors.mistakes(checker):
                shown = " ".join(re.sub(r"[*`]", "", hint).split())  # as Markdown renders it
                assert shown in cells, (checker, hint)


def test_instructors_page_gives_counts_and_times_in_words():
    sys.path.insert(0, str(ROOT / "_ext"))
    import instructors  # _ext/instructors.py

    assert [instructors.duration(m) for m in (45, 60, 75, 120)] == [
        "45 minutes",
        "1 hour",
        "1 hour 15 minutes",
        "2 hours",
    ]
    assert instructors.questions(0, 4, 0, 40) == "4 questions, graded by hand (40 points)"
    assert instructors.questions(1, 0, 1, 0) == "1 question, graded by the autograder (1 point)"
    assert instructors.questions(3, 2, 30, 20) == (
        "5 questions: 3 graded by the autograder (30 points), 2 by hand (20 points)"
    )
    text = main_text(page(HTML, "instructors"))
    assert not re.search(r"\b0 (graded|by hand)|\d\.\d hours", text)
    assert len(re.findall(r"\d+ questions?[,:] ", text)) == len(
        list((ROOT / "chapters").glob("*.md"))
    )


def test_the_students_build_has_no_instructors_page():
    assert (HTML / "instructors.html").exists()
    assert not (STUDENTS / "instructors.html").exists()
    index = (STUDENTS / "index.html").read_text(encoding="utf-8")
    assert "instructors.html" not in index


def test_instructors_page_has_one_section_per_chapter_under_its_title():
    soup = page(HTML, "instructors")
    headings = [
        h.get_text(" ", strip=True).rstrip("#").strip() for h in soup.select("article section h2")
    ]
    titles = [
        page(HTML, n).select_one("h1").get_text(" ", strip=True).rstrip("#").strip()
        for n in toc_files()
        if n.startswith("chapters/")
    ]
    assert headings == titles
