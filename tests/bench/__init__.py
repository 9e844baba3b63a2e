"""Tests of eduproject.bench."""
