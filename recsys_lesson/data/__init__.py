"""Data sets, splits and samplers (see the submodules)."""
