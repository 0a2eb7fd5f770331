"""Pages of the CSV/XLSX import and export of activity: upload, map columns, follow progress, read the report.

Managers of a team import into it (and its sub-teams, via a `team` column); anyone who
can see the team may export its records. Every URL is scoped by the team slug.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts import selectors as account_selectors
from accounts.permissions import team_for_user_or_404
from accounts.roles import Role
from metrics.activity_selectors import activity_csv_lines, activity_records
from metrics.imports import (
    ImportFileError,
    import_field_names,
    import_job_create,
    import_job_preview,
    import_job_start,
)
from metrics.ingest import KIND_SPECS
from metrics.models import ImportJob, ImportStatus


def _kind_choices() -> list[tuple[str, str]]:
    return [(kind, str(spec.model._meta.verbose_name_plural).capitalize()) for kind, spec in KIND_SPECS.items()]


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind of records"), choices=_kind_choices)
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("CSV (comma or semicolon separated, UTF-8) or XLSX; the first line names the columns."),
    )


class MappingForm(forms.Form):
    """One choice per column of the file: the field it fills, or nothing."""

    valid_only = forms.BooleanField(
        label=gettext_lazy("Import the valid rows"),
        required=False,
        help_text=gettext_lazy("Otherwise nothing is written when any row is invalid."),
    )

    def __init__(self, *args, job: ImportJob, **kwargs):
        super().__init__(*args, **kwargs)
        spec = KIND_SPECS[job.kind]
        labels = {f.name: f"{f.name} ({f.label})" for f in spec.fields}
        choices = [("", _("— ignore —"))] + [(name, labels.get(name, name)) for name in import_field_names(spec)]
        for position, header in enumerate(job.headers):
            self.fields[f"column_{position}"] = forms.ChoiceField(
                label=header or _("Column %(number)d") % {"number": position + 1},
                choices=choices,
                required=False,
                initial=job.mapping[position] if position < len(job.mapping) else "",
            )

    def mapping(self) -> list[str]:
        return [self.cleaned_data.get(f"column_{position}", "") for position in range(len(self.fields) - 1)]

    def column_fields(self):
        return [self[name] for name in self.fields if name.startswith("column_")]


def _job_or_404(team, pk: int) -> ImportJob:
    job = ImportJob.objects.filter(pk=pk, team=team).first()
    if job is None:
        raise Http404("No such import.")
    return job


@login_required
@require_http_methods(["GET", "POST"])
def import_home(request, team_slug: str):
    """Upload a file for one kind of records; list the team's recent imports and the exports."""
    team = team_for_user_or_404(request.user, team_slug, Role.MANAGER)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_job_create(
                team=team,
                kind=form.cleaned_data["kind"],
                user=request.user,
                filename=upload.name,
                content=upload.read(),
            )
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("import-job", team_slug=team.slug, pk=job.pk)
    jobs = ImportJob.objects.filter(team=team).defer("content")[:20]
    exports = _kind_choices()
    return render(
        request,
        "metrics/import.html",
        {"team": team, "current_team": team, "form": form, "jobs": jobs, "exports": exports},
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_job(request, team_slug: str, pk: int):
    """A job: the column mapping with a preview while a draft, then its progress and report."""
    team = team_for_user_or_404(request.user, team_slug, Role.MANAGER)
    job = _job_or_404(team, pk)
    context = {"team": team, "current_team": team, "job": job, "spec": KIND_SPECS[job.kind]}
    if job.status == ImportStatus.DRAFT:
        form = MappingForm(request.POST or None, job=job)
        if request.method == "POST" and form.is_valid():
            try:
                job = import_job_start(job=job, mapping=form.mapping(), valid_only=form.cleaned_data["valid_only"])
            except ImportFileError as exc:
                form.add_error(None, str(exc))
            else:
                messages.info(request, _("Import started."))
                return redirect("import-job", team_slug=team.slug, pk=job.pk)
        preview = import_job_preview(job=job)
        context.update(form=form, preview=preview, columns=form.column_fields())
        return render(request, "metrics/import_mapping.html", context)
    return render(request, "metrics/import_job.html", context)


@login_required
def import_job_status(request, team_slug: str, pk: int):
    """The job's progress as JSON, polled by the job page."""
    team = team_for_user_or_404(request.user, team_slug, Role.MANAGER)
    job = _job_or_404(team, pk)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "progress": job.progress,
            "finished": job.is_finished,
            "total_rows": job.total_rows,
        }
    )


@login_required
def activity_export(request, team_slug: str, kind: str):
    """The team's records of one kind (with its sub-teams') as CSV, safe to open in a spreadsheet."""
    team = team_for_user_or_404(request.user, team_slug, Role.VIEWER)
    if kind not in KIND_SPECS:
        raise Http404("Unknown record kind.")
    team_ids = account_selectors.team_ids_with_descendants([team.pk])
    response = StreamingHttpResponse(
        activity_csv_lines(kind=kind, records=activity_records(kind=kind, team_ids=team_ids)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{team.slug}-{kind}.csv"'
    return response
