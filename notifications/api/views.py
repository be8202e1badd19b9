from django.http import Http404
from drf_yasg.utils import swagger_auto_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.api.serializers import InboxFilterSerializer, MarkedReadSerializer, NotificationSerializer
from notifications.models import Notification
from notifications.selectors import notification_inbox
from notifications.services import notification_mark_read, notifications_mark_all_read


class NotificationListApi(generics.ListAPIView):
    """My in-app notifications, newest first; `?unread=true` for the unread ones only."""

    serializer_class = NotificationSerializer

    @swagger_auto_schema(query_serializer=InboxFilterSerializer)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = InboxFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return notification_inbox(user_id=self.request.user.id, unread=filters.validated_data["unread"])


class NotificationReadApi(APIView):
    """Marks one of my notifications read (someone else's id is a 404)."""

    @swagger_auto_schema(request_body=None, responses={200: NotificationSerializer})
    def post(self, request, pk: int):
        try:
            notification = notification_mark_read(user_id=request.user.id, notification_id=pk)
        except Notification.DoesNotExist:
            raise Http404
        return Response(NotificationSerializer(notification).data)


class NotificationReadAllApi(APIView):
    @swagger_auto_schema(request_body=None, responses={200: MarkedReadSerializer})
    def post(self, request):
        return Response({"marked_read": notifications_mark_all_read(user_id=request.user.id)})
