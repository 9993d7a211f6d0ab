"""Models of Problem management; they arrive with their issue."""
