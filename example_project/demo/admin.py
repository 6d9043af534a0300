from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from example_project.demo.forms import UserAdminChangeForm, UserCreationForm
from example_project.demo.models import AuditLog, Project, Task, User


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    form = UserAdminChangeForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("full_name",)}),
        ("Account security", {"fields": ("account_locked_until", "failed_login_count")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )
    list_display = (
        "email",
        "full_name",
        "is_active",
        "is_staff",
        "account_locked_until",
        "last_login",
    )
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "full_name")
    ordering = ("email",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    list_display = ("name", "owner", "created_at")
    list_select_related = ("owner",)
    search_fields = ("name", "owner__email")
    raw_id_fields = ("owner",)


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin[Task]):
    list_display = (
        "title",
        "project",
        "assigned_to",
        "status",
        "priority",
        "due_date",
        "updated_at",
    )
    list_filter = ("status", "priority")
    list_select_related = ("project", "assigned_to")
    search_fields = ("title",)
    raw_id_fields = ("project", "assigned_to")
    # The unfiltered COUNT(*) is costly on a large tasks table.
    show_full_result_count = False


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin[AuditLog]):
    """Audit entries are records of what happened: viewable, never edited by hand."""

    list_display = ("created_at", "action", "result", "user", "ip_address")
    list_filter = ("action", "result")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    raw_id_fields = ("user",)
    ordering = ("-created_at",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False
