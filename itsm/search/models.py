"""No Django models: the search table lives in its own schema, out of the application role's reach,
and is made by itsm/search/sql.py after every migrate. This module exists so that Django sends
this app the post_migrate signal (it skips apps without one)."""
