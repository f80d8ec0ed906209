"""The book's edition, on every page: its version and date, its licences, and where it lives.

The version and its date are minivlm's `__version__` and `__date__` (code/minivlm/__init__.py),
read from the file, not from an installed copy of the package that may be older. The
repository is the one place _config.yml names (`repository.url`); the Colab buttons and the
repository button follow it through Jupyter Book, the notebooks' install cell through
_ext/notebooks.py.

For the pages, as MyST substitutions:
- {{ version }}, {{ date }}: "2026.11", "30 November 2026";
- {{ repository }}: the repository's address;
- {{ install }}: the pip command that installs this version of the package from the
  repository (`install_ref`);
- {{ citation }}: the book's citation in words;
- {{ pdf }}: a link to the book's PDF where the book is published.

The footer of every page gives the edition and the licences: the text and the figures under
CC BY-SA 4.0, the code under MIT (LICENSE-TEXT and LICENSE in the repository).
"""

from __future__ import annotations

import ast
import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "code" / "minivlm" / "__init__.py"
MONTHS = (
    "January February March April May June July August September October November December"
).split()
TEXT_LICENCE = ("CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/")
CODE_LICENCE = "MIT"
PDF = "vlm-foundations.pdf"  # make pdf writes it; publishing puts it beside the pages


def edition(path: Path = PACKAGE) -> tuple[str, datetime.date]:
    """(version, date) as code/minivlm/__init__.py states them."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in ("__version__", "__date__"):
                    found[target.id] = node.value.value
    missing = {"__version__", "__date__"} - set(found)
    if missing:
        raise ValueError(f"{path} must assign {sorted(missing)} as string constants")
    return found["__version__"], datetime.date.fromisoformat(found["__date__"])


def in_words(day: datetime.date) -> str:
    """30 November 2026, in any locale."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def install_ref(version: str, branch: str = "main") -> str:
    """The git ref from which this version's notebooks and install command take the package:
    the version's tag, v2026.11, or for a version in development (2026.12.dev0), which has no
    tag yet, the repository's branch."""
    return branch if ".dev" in version else f"v{version}"


def install_command(repository: str, ref: str) -> str:
    return f'pip install "minivlm[book] @ git+{repository}@{ref}#subdirectory=code"'


def add_edition(app, config) -> None:
    version, day = edition()
    config.version = config.release = version
    theme = config.html_theme_options
    repository = theme.get("repository_url", "").rstrip("/")
    if not repository:
        raise ValueError("_config.yml must give the repository's address as repository.url")
    branch = theme.get("repository_branch") or "main"
    title = config.html_title or config.project
    citation = (
        f"{config.author}, *{title}*, version {version}, {in_words(day)}, "
        f"<{config.html_baseurl or repository}>"
    )
    config.myst_substitutions = {
        **config.myst_substitutions,
        "version": version,
        "date": in_words(day),
        "repository": f"<{repository}>",
        "install": f"`{install_command(repository, install_ref(version, branch))}`",
        "citation": citation,
        "pdf": f"[{PDF}]({(config.html_baseurl or repository).rstrip('/')}/{PDF})",
    }
    name, url = TEXT_LICENCE
    theme["extra_footer"] = (
        f'<p class="edition">{title}, version {version}, {in_words(day)}. '
        f'Text and figures: <a rel="license" href="{url}">{name}</a>; '
        f'code: <a rel="license" href="{repository}/blob/main/LICENSE">{CODE_LICENCE}</a>.</p>'
    )


def setup(app):
    app.connect("config-inited", add_edition)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
