"""Admin forms for the email-login user model."""

from __future__ import annotations

from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from example_project.demo.models import User


class UserCreationForm(AdminUserCreationForm[User]):
    class Meta:
        model = User
        fields = ("email",)


class UserAdminChangeForm(UserChangeForm[User]):
    class Meta:
        model = User
        fields = "__all__"
