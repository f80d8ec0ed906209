import os

# Plots render off-screen in tests.
os.environ.setdefault("MPLBACKEND", "Agg")
