"""Sinks behind the one exporter protocol (the store exporter lives in spanwise.store)."""
