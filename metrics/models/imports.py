"""CSV/XLSX imports of CRM activity: one ImportJob per uploaded file, run by a Celery task."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Team


class ImportStatus(models.TextChoices):
    DRAFT = "draft", _("Waiting for the column mapping")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    """An uploaded file of one record kind for one team: its mapping, progress and final report."""

    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("record kind"), max_length=30)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    filename = models.CharField(_("file"), max_length=255)
    # The file itself, kept in the database so any worker can read it; emptied once imported.
    content = models.BinaryField(blank=True, default=b"")
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=list, blank=True, help_text=_("the field of each column, '' to ignore it"))
    valid_only = models.BooleanField(_("import the valid rows"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.DRAFT)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    total_rows = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "created_at"], name="importjob_team_created")]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="importjob_progress_le_100"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} · {self.filename} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED)
