"""CSV/XLSX imports of CRM activity: one ImportJob per uploaded file, run by a Celery task, with the records
it changed (ImportChange, to undo it) and the column mapping each team last chose per kind (ImportMapping)."""

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
    UNDONE = "undone", _("Undone")


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
    # The invalid rows with their errors, as a CSV file to correct and import again.
    error_file = models.BinaryField(blank=True, default=b"")
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("undone by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

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
        return self.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED, ImportStatus.UNDONE)


class ImportChange(models.Model):
    """One record an import created or updated, with the values it replaced: what undoing the import restores."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="changes")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=120)
    created = models.BooleanField(help_text=_("created by the import (else updated)"))
    # The stored values before the import, by column (attname); null for a record it created.
    previous = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = _("imported record")
        verbose_name_plural = _("imported records")
        constraints = [
            models.UniqueConstraint(fields=["job", "team", "external_id"], name="importchange_job_record_unique"),
            models.CheckConstraint(
                condition=models.Q(created=True, previous__isnull=True)
                | models.Q(created=False, previous__isnull=False),
                name="importchange_previous_iff_updated",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.external_id} ({'created' if self.created else 'updated'})"


class ImportMapping(models.Model):
    """The column mapping a team last chose for one kind of records: proposed again for the next file."""

    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("record kind"), max_length=30)
    # Header (as compared: lower case, no accents or punctuation) → field, '' for a column left out.
    columns = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("import mapping")
        verbose_name_plural = _("import mappings")
        constraints = [models.UniqueConstraint(fields=["team", "kind"], name="importmapping_team_kind_unique")]

    def __str__(self) -> str:
        return f"{self.team_id}/{self.kind}"
