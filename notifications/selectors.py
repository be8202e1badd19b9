from django.db.models import QuerySet

from notifications.models import Notification


def notification_inbox(*, user_id: int, unread: bool | None = None) -> QuerySet[Notification]:
    """My in-app notifications, newest first."""
    qs = Notification.objects.filter(user_id=user_id, channel=Notification.Channel.IN_APP).order_by("-created_at", "-id")
    return qs.filter(read_at__isnull=True) if unread else qs
