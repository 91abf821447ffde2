"""Notifications: webhook, Slack, PagerDuty Events v2, email, Alertmanager and apprise,
through a durable outbox.

The runtime builds an `Outbox` from `NotifySettings` (the `notifications:` section) and
the channels ALERT_CHANNELS selects, calls `notify()` on incident changes and
`escalate()` periodically, and runs `run()` as a task.
"""

# Nothing is imported here: config reads notify.settings, and importing the channels
# (aiohttp) with it would cost every start-up, the TUI's first frame included.
