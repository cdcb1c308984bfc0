"""Prices and bills: what drivers pay (OCPI Tariffs) and what a site's electricity costs (URDB tariffs)."""
