"""Contracts: recurring revenue (MRR and its movements), revenue by stream, unit economics."""
