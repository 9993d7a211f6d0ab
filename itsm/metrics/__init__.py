"""Metrics and reporting: the shared engine.

The figures themselves live in the domain apps (incidents/metrics, problems/metrics,
changes/metrics), which know their facts; each registers a provider here. The engine holds
what they share: the period and filters of a report (`query`), the percentile aggregate that
works on PostgreSQL and SQLite alike (`aggregates`), the shapes a figure and its table take
(`registry`), the freshness of daily rollups (`models.RollupState`), and the API, the export
and the workspace dashboard, which list the registered providers without naming them.
"""
