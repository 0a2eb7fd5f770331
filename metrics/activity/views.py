"""Pages of the CSV/XLSX import and export of activity: upload, map columns, follow progress, read the report.

Managers of a team import into it (and its sub-teams, via a `team` column); anyone who
can see the team may export its records. Every URL is scoped by the team slug.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import selectors as account_selectors
from accounts.permissions import team_for_user_or_404
from accounts.roles import Role
from metrics.activity.forms import MappingForm, UploadForm, kind_choices
from metrics.activity.import_jobs import import_job_create, import_job_preview
from metrics.activity.imports import ImportFileError
from metrics.activity.kinds import KIND_SPECS
from metrics.activity.selectors import activity_csv_lines, activity_records
from metrics.activity.tasks import import_job_start
from metrics.models import ImportJob, ImportStatus


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
    exports = kind_choices()
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
