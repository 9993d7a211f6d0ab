from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    """The benchmark suite and the data at scale it runs on: management commands only, no
    models and no URLs of the product (its floor views are served by its own URL module)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "benchmarks"
    verbose_name = "Benchmarks"
