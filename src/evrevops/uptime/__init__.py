"""Uptime and reliability: port status timelines, the outage ledger, NEVI uptime, SLA credits, risk."""
