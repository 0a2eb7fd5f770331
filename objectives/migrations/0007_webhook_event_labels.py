# Webhook events named in words in pages and admin (their codes stay the payload's `event`).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("objectives", "0006_alert_budget_basis_dashboard_panels"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookdelivery",
            name="event",
            field=models.CharField(
                choices=[
                    ("alert.firing", "Alert fired"),
                    ("alert.acknowledged", "Alert acknowledged"),
                    ("alert.resolved", "Alert resolved"),
                    ("objective.at_risk", "Objective at risk"),
                    ("objective.achieved", "Objective achieved"),
                    ("test", "Test"),
                ],
                max_length=40,
                verbose_name="event",
            ),
        ),
    ]
