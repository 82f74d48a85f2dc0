"""The unmanaged-usage report: one document (model.py), rendered as a terminal table, JSON,
CSV or a self-contained HTML page."""
