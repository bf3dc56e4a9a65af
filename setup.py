"""Packaging beyond pyproject.toml: one thing only.

setuptools copies the packages into ``build/lib`` and builds the wheel from there, but never
removes what the checkout no longer has (pypa/setuptools#1871): after the shipped models were
retrained, a second ``pip install .`` in the same checkout installed the old model files beside
the new ones, and the dashboard offered both. Each build now starts from an empty
``build/lib/rate2spike``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class FreshBuildPy(build_py):
    """``build_py`` that first removes what an earlier build left of the package."""

    def run(self):
        earlier = Path(self.build_lib) / "rate2spike"
        if earlier.is_symlink() or earlier.is_file():
            earlier.unlink()  # the link itself, never what it points to
        elif earlier.exists():
            shutil.rmtree(earlier)
        super().run()


setup(cmdclass={"build_py": FreshBuildPy})
