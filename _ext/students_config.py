"""Print the configuration of the students' build: _config.yml with students_build set.

The copy lives in _build/, so the paths that Jupyter Book resolves against the
configuration file's folder are made absolute.
"""

import sys
from pathlib import Path

import yaml

root = Path(__file__).resolve().parents[1]
config = yaml.safe_load((root / "_config.yml").read_text())
config["sphinx"]["config"]["students_build"] = True
config["sphinx"]["local_extensions"] = {
    name: str(root / path) for name, path in config["sphinx"]["local_extensions"].items()
}
config["execute"]["cache"] = str(root / config["execute"]["cache"])
yaml.safe_dump(config, sys.stdout, sort_keys=False)
