"""The shipped model files (data only): ``detectors/*.toml``, ``sources/*.toml``, ``data/*/``.

Installed as the package data of ``cevns_fit.models``; find them by name with
:mod:`cevns_fit.registry`, never by a path relative to the current folder.
"""
