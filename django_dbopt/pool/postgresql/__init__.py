"""``ENGINE = "django_dbopt.pool.postgresql"``: Django's PostgreSQL backend whose pool
(``OPTIONS["pool"]``) is a ``django_dbopt.pool.managed.ManagedPool``."""
