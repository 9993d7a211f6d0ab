"""Signing in: login throttling and lockout (django-axes) on every door, and API tokens
(django-rest-knox) that are stored hashed, expire and can be revoked. See docs/security.md."""
