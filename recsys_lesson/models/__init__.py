"""Models, one family per file."""
