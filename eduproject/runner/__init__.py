"""The runner layer: the sandboxed execution engine shared by every caller."""
