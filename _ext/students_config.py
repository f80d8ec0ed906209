"""Print the configuration of the students' build: _config.yml with students_build set, and
without the sources, the download button and the Colab button, which hold the solutions.

The copy lives in _build/, so the paths that Jupyter Book resolves against the
configuration file's folder are made absolute. With --toc PATH it also writes the students'
table of contents there: _toc.yml without the instructors' page.
"""

import argparse
import sys
from pathlib import Path

import yaml

INSTRUCTORS_ONLY = {"instructors"}  # pages of _toc.yml that the students' build leaves out

root = Path(__file__).resolve().parents[1]
parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--toc", type=Path, help="where to write the students' _toc.yml")
args = parser.parse_args()

config = yaml.safe_load((root / "_config.yml").read_text())
config["sphinx"]["config"]["students_build"] = True
# nothing that holds the solutions: not the pages' sources (the download button's .md and
# .ipynb), nor the Colab button, which opens the chapter's notebook with its solutions
config["sphinx"]["config"]["html_copy_source"] = False
config["sphinx"]["config"].setdefault("html_theme_options", {})["use_download_button"] = False
config["launch_buttons"]["colab_url"] = ""
config["sphinx"]["local_extensions"] = {
    name: str(root / path) for name, path in config["sphinx"]["local_extensions"].items()
}
config["execute"]["cache"] = str(root / config["execute"]["cache"])
yaml.safe_dump(config, sys.stdout, sort_keys=False)

if args.toc:
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    for part in toc["parts"]:
        part["chapters"] = [c for c in part["chapters"] if c["file"] not in INSTRUCTORS_ONLY]
    toc["parts"] = [part for part in toc["parts"] if part["chapters"]]
    args.toc.write_text(yaml.safe_dump(toc, sort_keys=False))
