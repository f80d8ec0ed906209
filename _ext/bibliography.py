"""The book's citations in author-year form, alike on its pages, in its notebooks and its PDF.

The pages cite by author and year, "(Radford et al., 2021)" (sphinxcontrib-bibtex's
`author_year` referencing), and the references page labels every work the same way,
"[Radford et al., 2021]", rather than by a number that no citation shows. Works whose
authors and year coincide get a letter, in the order of their titles: "Li et al., 2023a"
is BLIP-2 and "Li et al., 2023b" the POPE paper, in the citations and in the labels.

- `labels()`: key -> (authors, year) for every work of references.bib, the year lettered
  where it must be; _ext/notebooks.py cites with it in the notebooks;
- the pybtex style `author_year` (`bibtex_default_style` in _config.yml): BibTeX's plain
  entries under those labels, sorted by them;
- the post-transform `LetteredYears`: the letter added to the year of a citation on the
  pages, which sphinxcontrib-bibtex writes from the entry's year alone.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as Plain
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle
from sphinx.transforms.post_transforms import SphinxPostTransform

ROOT = Path(__file__).resolve().parents[1]
STYLE = "author_year"


@lru_cache
def database():
    from pybtex.database import parse_file

    return parse_file(str(ROOT / "references.bib"))


def names_and_year(entry) -> tuple[str, str]:
    """("Radford et al.", "2021"): one surname, two joined by "and", or the first and "et al."."""
    people = entry.persons.get("author") or entry.persons.get("editor")
    if not people:
        raise ValueError(f"{entry.key}: a work needs an author or an editor to be cited")
    # "van den Oord": the prefix belongs to the surname, as in the book's citations
    names = [
        " ".join(part.render_as("text") for part in p.rich_prelast_names + p.rich_last_names)
        for p in people
    ]
    if len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return who, entry.fields["year"]


@lru_cache
def labels() -> dict[str, tuple[str, str]]:
    """key -> (authors, year) for every work of the bibliography; works whose authors and
    year coincide (two "Li et al., 2023") get 2023a, 2023b, in the order of their titles."""
    entries = database().entries
    plain = {key: names_and_year(entry) for key, entry in entries.items()}
    out = dict(plain)
    for label in set(plain.values()):
        same = sorted(
            (k for k, v in plain.items() if v == label),
            key=lambda k: re.sub(r"[{}]", "", entries[k].fields["title"]).lower(),
        )
        if len(same) > 1:
            for letter, key in zip("abcdefghij", same):
                out[key] = (label[0], label[1] + letter)
    return out


class AuthorYearLabels(BaseLabelStyle):
    """The references page's label of a work: "Radford et al., 2021"."""

    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            who, year = labels()[entry.key]
            yield f"{who}, {year}"


class AuthorYearSorting(BaseSortingStyle):
    """The references in the order of their labels: "Li et al., 2020" before 2023a and 2023b."""

    def sorting_key(self, entry):
        who, year = labels()[entry.key]
        return who.lower(), year


class AuthorYearStyle(Plain):
    """BibTeX's plain entries under author-year labels, in the labels' order."""

    default_label_style = STYLE
    default_sorting_style = STYLE


register_plugin("pybtex.style.labels", STYLE, AuthorYearLabels)
register_plugin("pybtex.style.sorting", STYLE, AuthorYearSorting)
register_plugin("pybtex.style.formatting", STYLE, AuthorYearStyle)


class LetteredYears(SphinxPostTransform):
    """A citation of a work whose authors and year another work shares shows its letter:
    "(Li et al., 2023a)", as its label on the references page does."""

    default_priority = 20  # after Sphinx resolves the citations into links (10)

    def run(self, **kwargs):
        lettered = {k: year for k, (_, year) in labels().items() if not year[-1].isdigit()}
        for ref in self.document.findall(nodes.reference):
            target = ref.get("refid") or ref.get("refuri", "").rpartition("#")[2]
            if target not in lettered:
                continue
            year = lettered[target]
            for text in reversed(list(ref.findall(nodes.Text))):
                new = re.sub(rf"(?<!\d){year[:-1]}(?![\da-z])", year, str(text))
                if new != str(text):
                    text.parent.replace(text, nodes.Text(new))
                    break


def setup(app):
    app.add_post_transform(LetteredYears)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
