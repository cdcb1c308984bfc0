"""Unit economics of sites and revenue models: cost book, incentives, cash flows, payback, P&L (handbook §7)."""
