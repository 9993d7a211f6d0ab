"""Models of Incident management; they arrive with their issue."""
