"""Notifications: webhook, Slack, PagerDuty Events v2 and email, through a durable outbox.

The runtime builds an `Outbox` from `NotifySettings` (the `notifications:` section) and
the channels ALERT_CHANNELS selects, calls `notify()` on incident changes and
`escalate()` periodically, and runs `run()` as a task.
"""

from .channels import DeliveryError, Notification
from .outbox import ChannelStatus, Outbox
from .settings import (
    ChannelSettings,
    NotifySettings,
    active_channels,
    describe,
    parse_notifications,
    unknown_channels,
)

__all__ = ["ChannelSettings", "ChannelStatus", "DeliveryError", "Notification",
           "NotifySettings", "Outbox", "active_channels", "describe", "parse_notifications",
           "unknown_channels"]
