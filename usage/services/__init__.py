"""Writes for usage: recording events, the debate quota, budgets and alerts, periods and repair."""
