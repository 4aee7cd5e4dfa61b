# Generated from ../_async/__init__.py by clients/python/generate.py. Do not edit.
"""The synchronous client. ``_sync`` is generated from this package."""
