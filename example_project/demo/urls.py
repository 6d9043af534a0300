from __future__ import annotations

from django.urls import path

from example_project.demo import views

app_name = "demo"

urlpatterns = [
    path("", views.home, name="home"),
    path("login-lookup/", views.login_lookup, name="login_lookup"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/<int:user_id>/", views.dashboard, name="dashboard"),
    path("security-events/", views.security_events, name="security_events"),
    path("tasks/nplusone/", views.tasks_nplusone, name="tasks_nplusone"),
    path("tasks/fixed/", views.tasks_fixed, name="tasks_fixed"),
]
