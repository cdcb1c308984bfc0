"""The core every other layer stands on: money, the calendar, SQL text and the closed vocabulary.

- :mod:`evrevops.core.money`: integer minor units of an ISO 4217 currency, exact decimals,
  exact rounding in Python and in SQL;
- :mod:`evrevops.core.iso4217`: the currency codes a record may carry;
- :mod:`evrevops.core.calendar`: months (one month arithmetic), site-local days and open windows;
- :mod:`evrevops.core.hours`: operating-hours text (OSM ``opening_hours`` subset, OCPI opening times);
- :mod:`evrevops.core.sqltext`: the one literal quoter, the one identifier quoter, ``IN`` lists;
- :mod:`evrevops.core.vocabulary`: the domain words as closed enums.

The core imports nothing else of evrevops (the import check in ``tests/test_architecture.py``).
"""
