"""Guanxi (关系): an open-source CRM for online stores."""

__version__ = "0.1.0"
