"""Demo pages, each exercising one query shape that django_dbopt watches."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from example_project.demo import queries
from example_project.demo.models import AuditLog, Project, Task, User

DASHBOARD_LIMIT = 200
TASK_LIST_LIMIT = 50


def home(request: HttpRequest) -> HttpResponse:
    counts = {
        "users": User.objects.count(),
        "projects": Project.objects.count(),
        "tasks": Task.objects.count(),
        "audit log entries": AuditLog.objects.count(),
    }
    return render(request, "demo/home.html", {"counts": counts, "empty": not any(counts.values())})


def login_lookup(request: HttpRequest) -> HttpResponse:
    email = request.GET.get("email", "").strip()
    context: dict[str, object] = {"email": email, "searched": bool(email)}
    if email:
        context["user"] = queries.login_lookup(email)
    else:
        active = User.objects.filter(is_active=True).order_by("pk")
        context["example_email"] = active.values_list("email", flat=True).first()
    return render(request, "demo/login_lookup.html", context)


def dashboard(request: HttpRequest, user_id: int | None = None) -> HttpResponse:
    if user_id is None:
        # The first ordinary user (seeded data gives them the most work), else anyone.
        users = User.objects.order_by("pk")
        user = users.filter(is_staff=False).first() or users.first()
        if user is None:
            return render(request, "demo/dashboard.html", {"user_shown": None})
    else:
        user = get_object_or_404(User, pk=user_id)
    counts = queries.status_counts(user)
    context = {
        "user_shown": user,
        "tasks": list(queries.dashboard_tasks(user)[:DASHBOARD_LIMIT]),
        "limit": DASHBOARD_LIMIT,
        "status_counts": [(label, counts[status]) for status, label in Task.Status.choices],
    }
    return render(request, "demo/dashboard.html", context)


def security_events(request: HttpRequest) -> HttpResponse:
    action = request.GET.get("action", AuditLog.Action.LOGIN)
    result = request.GET.get("result", AuditLog.Result.FAILURE)
    context: dict[str, object] = {
        "action": action,
        "result": result,
        "actions": AuditLog.Action.choices,
        "results": AuditLog.Result.choices,
        "limit": queries.SECURITY_EVENTS_LIMIT,
    }
    if action not in AuditLog.Action.values or result not in AuditLog.Result.values:
        context["error"] = "Choose an action and a result from the lists."
        return render(request, "demo/security_events.html", context, status=400)
    context["events"] = list(queries.security_events(action, result))
    return render(request, "demo/security_events.html", context)


def tasks_nplusone(request: HttpRequest) -> HttpResponse:
    """A real N+1: the template follows task.project and task.assigned_to per row."""
    tasks = Task.objects.order_by("-pk")[:TASK_LIST_LIMIT]
    return render(request, "demo/task_list.html", {"tasks": tasks, "variant": "N+1"})


def tasks_fixed(request: HttpRequest) -> HttpResponse:
    """The same page in one query, joining project and assignee."""
    tasks = Task.objects.select_related("project", "assigned_to").order_by("-pk")[:TASK_LIST_LIMIT]
    return render(request, "demo/task_list.html", {"tasks": tasks, "variant": "fixed"})
