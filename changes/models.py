"""Models of Change enablement; they arrive with their issue."""
