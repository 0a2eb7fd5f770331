"""Models of the objectives app: objectives and targets, budgets, alert rules and alerts, notifications."""

from objectives.models.alerts import (
    Alert,
    AlertCondition,
    AlertEvent,
    AlertEventKind,
    AlertRule,
    AlertSeverity,
    AlertState,
    CompareBasis,
)
from objectives.models.budgets import Budget
from objectives.models.dashboards import DashboardCard, DashboardPanel
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
    RelativeBasis,
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
    "CompareBasis",
    "Budget",
    "DashboardCard",
    "DashboardPanel",
    "DigestFrequency",
    "EmailState",
    "Judged",
    "Notification",
    "NotificationSettings",
    "Objective",
    "ObjectiveState",
    "Phasing",
    "Recommendation",
    "RelativeBasis",
    "ProgressStatus",
    "Target",
    "TargetPhase",
    "WebhookDelivery",
    "WebhookDeliveryState",
    "WebhookEndpoint",
    "WebhookEvent",
]
