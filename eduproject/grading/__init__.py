"""Headless grading: sandboxed execution, unforgeable verdicts, gradebook and reports."""
