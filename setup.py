"""Build hook for spanwise's optional C speed-ups (all metadata lives in pyproject.toml).

Every extension is optional: when it cannot be compiled (no compiler or headers), the
install still succeeds and spanwise uses the pure-Python implementation of the same code.
"""

from setuptools import Extension, setup

EXTENSIONS = [
    Extension("spanwise._cspan", ["src/spanwise/_cspan.c"], optional=True),
    Extension("spanwise.debug._lockfast", ["src/spanwise/debug/_lockfast.c"], optional=True),
    Extension(
        "spanwise.workflow._tracejson", ["src/spanwise/workflow/_tracejson.c"], optional=True
    ),
]

setup(ext_modules=EXTENSIONS)
