"""Serve MathJax from the built book, so that every page typesets its math offline.

Sphinx loads MathJax 3 from a CDN by default. MathJax 3.2.2 itself ships, as static
files, in the PyPI package django-static-mathjax (import name `mathjax`); this extension
points Sphinx at a copy of it inside _static/ and copies it there after the build.
"""

import shutil
from pathlib import Path

ENTRY = "tex-chtml.js"  # TeX input, HTML-CSS output: what Sphinx's default URL loads


def mathjax_es5() -> Path:
    import mathjax

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def use_local_copy(app, config):
    config.mathjax_path = f"mathjax/{ENTRY}"


def copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_es5(), Path(app.outdir) / "_static" / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / ENTRY, target / ENTRY)
    # the components MathJax loads on demand: fonts, extensions, menus, speech
    for folder in (p for p in source.iterdir() if p.is_dir()):
        shutil.copytree(folder, target / folder.name, dirs_exist_ok=True)


def setup(app):
    mathjax_es5()  # fail early, with an ImportError, when the package is missing
    app.connect("config-inited", use_local_copy)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
