"""The instructors' page: what each chapter's graded assignment holds.

    ```{assignment-overview} chapters/cnn
    ```

renders the chapter's learning objectives (its "Learning objectives" box) and a table of its
exercises: how each is graded (by the autograder, whose hidden test runs the checker, or by
hand), its points, the minutes a student needs, and the mistakes the checker names. The
figures come from where the assignments take them (make assignments, _ext/assignments.py):
the chapter, chapters/assignments.yml and minivlm.exercises. The page is in the book, not in
the students' build (_ext/students_config.py leaves it out of the table of contents).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

sys.path.insert(0, str(Path(__file__).resolve().parent))
import assignments  # noqa: E402  (_ext/assignments.py: the chapters' exercises, read once)

OBJECTIVES = re.compile(
    r"^```\{admonition\} Learning objectives\n(?::\w+:[^\n]*\n)*(.*?)^```$", re.S | re.M
)


def objectives(md: Path) -> list[str]:
    """The chapter's learning objectives, as Markdown lines ("After this chapter you can" and
    its list); none for a chapter without the box (the summary)."""
    match = OBJECTIVES.search(md.read_text())
    return match.group(1).strip().split("\n") + [""] if match else []


def short(hint: str) -> str:
    """A checker's hint, cut to the mistake it names: "the kernel is flipped"."""
    return re.split(r": |; ", hint, maxsplit=1)[0]


def mistakes(checker: str) -> list[str]:
    from minivlm import exercises

    return [short(hint) for hint in exercises.named_mistakes(getattr(exercises, checker))]


def overview(md: Path) -> list[str]:
    """The Markdown of one chapter's part of the page."""
    chapter = assignments.read_chapter(md)
    rows = []
    for e in chapter.exercises:
        name = e.heading.split(": ", 1)[1].removesuffix(" (checked)")
        title = f"{{ref}}`{e.label}`: {name}"
        if e.checked:
            # a "|" in a hint ("max|row|") would end the table's cell, and "<eos>" would be
            # read as an HTML tag and vanish
            named = "; ".join(mistakes(e.checker)).replace("|", "\\|")
            named = named.replace("<", "&lt;").replace(">", "&gt;")
            rows.append(
                f"| {title} | autograder (`{e.checker}`) | {e.points} | {e.minutes} | {named} |"
            )
            if e.written:
                rows.append(f"| its written question | by hand | {e.written} | | |")
        else:
            rows.append(f"| {title} | by hand | {e.points} | {e.minutes} | |")
    auto, minutes = len(chapter.autograded), chapter.minutes
    link = f"{{doc}}`The chapter </{chapter.page.path}>`"
    return [
        f"{link} and [its notebook in Colab]({assignments.colab_url(chapter.page)}).",
        "",
        *objectives(md),
        "| Exercise | Graded | Points | Minutes | Mistakes the checker names |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"{questions(auto, chapter.by_hand, chapter.points_auto, chapter.points_hand)}; "
        f"about {duration(minutes)} of work.",
    ]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def questions(auto: int, by_hand: int, points_auto: int, points_hand: int) -> str:
    """ "5 questions: 3 graded by the autograder (30 points), 2 by hand (20 points)", and
    without the kind a chapter has none of."""
    total = plural(auto + by_hand, "question")
    if not auto:
        return f"{total}, graded by hand ({plural(points_hand, 'point')})"
    if not by_hand:
        return f"{total}, graded by the autograder ({plural(points_auto, 'point')})"
    return (
        f"{total}: {auto} graded by the autograder ({plural(points_auto, 'point')}), "
        f"{by_hand} by hand ({plural(points_hand, 'point')})"
    )


def duration(minutes: int) -> str:
    """75 -> "1 hour 15 minutes", as an instructor plans a week."""
    hours, rest = divmod(minutes, 60)
    parts = [plural(hours, "hour")] if hours else []
    return " ".join(parts + ([plural(rest, "minute")] if rest or not hours else []))


class AssignmentOverview(SphinxDirective):
    required_arguments = 1  # the chapter, as in _toc.yml: chapters/cnn

    def run(self):
        root = Path(self.env.srcdir)
        md = (root / self.arguments[0]).with_suffix(".md")
        for path in (md, md.with_suffix(".ipynb"), assignments.CONFIG):
            self.env.note_dependency(str(path))
        container = nodes.container(classes=["assignment-overview"])
        lines = overview(md)
        self.state.nested_parse(StringList(lines, str(md)), self.content_offset, container)
        return [container]


def setup(app):
    app.add_directive("assignment-overview", AssignmentOverview)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
