from __future__ import annotations

import django_stubs_ext
from django.apps import AppConfig

# Lets the demo write ModelAdmin[Task] and UserChangeForm[User] at run time, as the
# type checker wants (django-stubs' documented way: these classes are not generic in
# Django itself). Done at import, before any admin or form module is loaded.
django_stubs_ext.monkeypatch()


class DemoConfig(AppConfig):
    name = "example_project.demo"
    label = "demo"
    verbose_name = "Demo"
    default_auto_field = "django.db.models.BigAutoField"
