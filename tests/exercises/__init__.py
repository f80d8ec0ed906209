"""Tests of minivlm.exercises, one file per chapter; a package, so that test_clip.py and
the other names shared with the package's tests in tests/ import as exercises.test_clip."""
