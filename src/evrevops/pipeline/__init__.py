"""The sales and installation motion: pipeline, projects, land-and-expand (handbook §8)."""
