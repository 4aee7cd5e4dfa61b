# Generated from ../_async/__init__.py by clients/python/generate.py. Do not edit.
"""Client classes; see ``custodian_client`` and ``generate.py``."""
