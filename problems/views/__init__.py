"""Problem and known-error pages of the workspace, one module per page."""
