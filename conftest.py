"""Repository-level pytest configuration: doctest collection of the package."""

import importlib.util

# modules that import an optional GPU toolchain at import time cannot be collected without it
collect_ignore_glob = [] if importlib.util.find_spec("triton") else ["driftlab/engine/_triton*.py"]
