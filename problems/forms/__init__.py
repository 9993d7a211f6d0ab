"""Forms of the problem pages: one module per page (record actions, create, bulk link)."""
