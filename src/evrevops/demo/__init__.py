"""Deterministic demo network generator (``evrevops generate``); see docs/demo.md."""

from evrevops.demo.generator import generate

__all__ = ["generate"]
