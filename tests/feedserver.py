"""Placeholder: replaced by the real local HTTP feed server."""
