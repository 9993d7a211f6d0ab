"""Forms of the incident pages: one module per page (actions of the record page, create)."""
