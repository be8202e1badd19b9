from rest_framework.permissions import BasePermission

from partners.models import Partner


class IsPartner(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Partner) and request.auth.is_active
