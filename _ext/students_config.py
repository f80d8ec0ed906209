"""Print the configuration of the students' build: _config.yml with students_build set.

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
