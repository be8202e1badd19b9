"""Observation hooks that domain apps send and `monitoring` subscribes to, so no app ever
imports `monitoring` (see docs/ARCHITECTURE.md, "Metrics"). Sending one is cheap and never
fails the caller (use `send_robust`)."""
from django.dispatch import Signal

# Sent by notifications once per delivery attempt: channel="email"|"in_app", outcome="sent"|"failed".
notification_delivered = Signal()
