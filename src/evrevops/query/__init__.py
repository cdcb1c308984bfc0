"""The one query layer: the functions every surface (the CLI, the API, the council pack) calls.

Each takes a warehouse and typed arguments (dates, not text) and returns a frozen result whose
fields carry their units in their names, or a :class:`~evrevops.query.result.TableResult`: an
Arrow table with the units of its columns declared. A surface parses its own input and renders
what it gets; it computes nothing.

Modules: :mod:`.metrics` (metrics, headline, uptime), :mod:`.uptime` (outages, silent chargers,
SLA credits, accounts at risk), :mod:`.recurring` (MRR, revenue), :mod:`.finance` (unit economics,
model compare, P&L, incentives), :mod:`.pipeline`, :mod:`.forecast`, :mod:`.sites` (sites, ports),
:mod:`.energy` (bills, leakage, what-ifs), :mod:`.ledger` (the ingest ledger, quarantine, warehouse status),
:mod:`.catalog` (input formats and mappings, the metric registry: list, explain, reference), :mod:`.exports`
(Parquet, NEVI: what was written), :mod:`.period` (the default month) and :mod:`.result`.
"""
