"""Models of Knowledge base; they arrive with their issue."""
