"""Incident pages of the agent workspace and the requester portal, one module per page."""
