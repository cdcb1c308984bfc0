"""Forecasts of each revenue stream (handbook §9)."""
