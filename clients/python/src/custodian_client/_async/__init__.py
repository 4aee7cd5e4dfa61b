"""Client classes; see ``custodian_client`` and ``generate.py``."""
