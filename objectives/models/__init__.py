"""Models of the objectives app: objectives and targets, budgets, alert rules and alerts, notifications."""

from objectives.models.alerts import (
    Alert,
    AlertCondition,
    AlertEvent,
    AlertEventKind,
    AlertRule,
    AlertSeverity,
    AlertState,
)
from objectives.models.budgets import Budget
from objectives.models.dashboards import DashboardCard
from objectives.models.notifications import (
    DigestFrequency,
    EmailState,
    Notification,
    NotificationSettings,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
    WebhookEvent,
)
from objectives.models.objectives import (
    VALUE,
    Judged,
    Objective,
    ObjectiveState,
    Phasing,
    ProgressStatus,
    Recommendation,
    Target,
    TargetPhase,
)

__all__ = [
    "VALUE",
    "Alert",
    "AlertCondition",
    "AlertEvent",
    "AlertEventKind",
    "AlertRule",
    "AlertSeverity",
    "AlertState",
    "Budget",
    "DashboardCard",
    "DigestFrequency",
    "EmailState",
    "Judged",
    "Notification",
    "NotificationSettings",
    "Objective",
    "ObjectiveState",
    "Phasing",
    "Recommendation",
    "ProgressStatus",
    "Target",
    "TargetPhase",
    "WebhookDelivery",
    "WebhookDeliveryState",
    "WebhookEndpoint",
    "WebhookEvent",
]
