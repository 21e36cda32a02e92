"""Persistence: tables, engine and session ownership, queries and importers.

Takes plain values (a database URL); never reads application settings itself.
"""
