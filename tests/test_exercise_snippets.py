"""Every piece of code that an exercise or its solution asks the student to try, in its prose
rather than in a cell, works as written.

The Exercises section of each chapter names calls (`recipe.LLaVARecipe.chapter(image_first=True)`),
configurations and prompt templates in inline code and in indented blocks. nbval runs the
cells, not those. Here each snippet is parsed as Python in the names the chapter imports:
a snippet whose names are all bound is run, unless it trains or evaluates a model (minutes
of work); every call whose function the chapter's imports reach must accept the arguments
the snippet passes; every prompt template must make a prompt for each label in the
tokenizer's vocabulary.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))
EXPENSIVE = re.compile(r"^(train|fit|evaluate|generate)")  # run by the student, bound here


def exercise_prose(md: Path) -> str:
    """The Markdown from the chapter's first exercise on (code cells left out)."""
    cells = [c.source for c in jupytext.read(md).cells if c.cell_type == "markdown"]
    text = "\n".join(cells)
    return text[text.index("```{exercise}") :]


def snippets(prose: str) -> list[str]:
    """Inline code and indented code blocks of the prose, without math and roles."""
    prose = re.sub(r"^(```|:::).*$", "", prose, flags=re.M)  # directive fences
    prose = re.sub(r"\{[a-z:-]+\}`[^`]*`", "", prose)  # roles: {glue:text}`name`
    found = [" ".join(m.split()) for m in re.findall(r"`([^`]+)`", prose)]
    blocks = re.findall(r"(?:^|\n)\n((?:    \S.*\n)+)", prose)
    found += [re.sub(r"^    ", "", b, flags=re.M) for b in blocks]
    return found


def namespace(md: Path) -> dict:
    """What the chapter's import statements bind, wherever they are in its cells."""
    names: dict = {}
    for cell in jupytext.read(md).cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            line for line in cell.source.split("\n") if not line.lstrip().startswith(("%", "!"))
        )
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                exec(compile(ast.Module([node], []), md.name, "exec"), names)
    return names


def dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return head and f"{head}.{node.attr}"
    return None


def resolve(path: str, names: dict):
    head, *rest = path.split(".")
    obj = names[head]
    for attr in rest:
        if not hasattr(obj, attr):
            raise AssertionError(f"{path}: {head}{''.join('.' + a for a in rest)} does not exist")
        obj = getattr(obj, attr)
    return obj


def check_calls(tree, names: dict, snippet: str) -> None:
    """Every call whose function the imports reach accepts the snippet's arguments."""
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        path = dotted(call.func)
        head = path and path.split(".")[0]
        if (
            head
            and "." in path
            and head not in names
            and (head[0].isupper() or importlib.util.find_spec(head) is not None)
        ):
            # a class or a module the prose uses as if the chapter had imported it
            raise AssertionError(f"{snippet!r}: the chapter does not import {head}")
        if not path or head not in names:
            continue  # the student's own function, or a variable of the chapter
        function = resolve(path, names)
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):
            continue  # a builtin without a signature
        args = [object()] * len(call.args)
        kwargs = {k.arg: object() for k in call.keywords if k.arg}
        try:
            signature.bind(*args, **kwargs)
        except TypeError as error:
            raise AssertionError(
                f"{snippet!r}: {path} does not take these arguments: {error}"
            ) from error


def free_names(tree) -> set[str]:
    assigned = {
        t.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return used - assigned


def check_template(template: str) -> None:
    from minivlm.data import Tokenizer, class_prompts

    prompts = class_prompts(template)  # raises for a template without both fields
    Tokenizer().batch_encode(prompts, 16)  # raises for a word outside the vocabulary


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_exercise_snippets_work_as_written(md):
    names = namespace(md)
    checked = 0
    for snippet in snippets(exercise_prose(md)):
        try:
            tree = ast.parse(snippet)
        except SyntaxError:
            continue  # prose in code font: a shape, a file name, a formula
        value = (
            tree.body[0].value
            if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr)
            else None
        )
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            if "{colour}" in value.value or "{shape}" in value.value:
                check_template(value.value)
                checked += 1
            continue
        calls = [dotted(n.func) or "" for n in ast.walk(tree) if isinstance(n, ast.Call)]
        if not calls:
            continue
        check_calls(tree, names, snippet)
        cheap = not any(EXPENSIVE.match(c.split(".")[-1]) for c in calls)
        if cheap and free_names(tree) <= set(names) | set(dir(__builtins__)):
            exec(compile(tree, f"<{md.stem} exercise snippet>", "exec"), dict(names))
        checked += 1
    if not checked:
        pytest.skip(f"{md.name}'s exercises name no code to try")


def test_the_snippet_check_catches_a_broken_call_and_template():
    names = {"inspect": inspect}
    with pytest.raises(AssertionError, match="does not take these arguments"):
        check_calls(ast.parse("inspect.signature(len, no_such_argument=1)"), names, "s")
    with pytest.raises(AssertionError, match="does not exist"):
        check_calls(ast.parse("inspect.no_such_function()"), names, "s")
    with pytest.raises(AssertionError, match="does not import dataclasses"):
        check_calls(ast.parse("dataclasses.replace(x, seed=1)"), names, "s")
    with pytest.raises(AssertionError, match="does not import LLaVARecipe"):
        check_calls(ast.parse("LLaVARecipe.chapter()"), names, "s")
    with pytest.raises(ValueError):
        check_template("{colour}")
    with pytest.raises(ValueError):
        check_template("a {shape} coloured {colour}")
