"""Tests of the per-hook transforms (filter, fields/map, templates, auth)."""
