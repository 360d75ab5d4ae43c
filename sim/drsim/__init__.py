"""drsim: the drhost local cloud simulator (Entra ID, ARM, Databricks) on loopback over TLS.

See sim/FRAMEWORK.md for the API route modules use.
"""
__version__ = "0.1.0"
