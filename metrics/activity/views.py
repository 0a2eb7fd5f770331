"""Pages of the CSV/XLSX import and export of activity: upload, map columns (the first rows checked), follow
progress, read the report, download the invalid rows, undo an import.

Managers of a team import into it (and its sub-teams, via a `team` column); anyone who
can see the team may export its records. Every URL is scoped by the team slug.
"""

from pathlib import PurePath

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts.permissions import team_for_user_or_404
from accounts.roles import Role
from metrics.activity.forms import MappingForm, UploadForm, kind_choices
from metrics.activity.import_jobs import (
    ImportUndoRefused,
    import_job_create,
    import_job_preview,
    import_job_undo,
    import_job_undo_deadline,
)
from metrics.activity.imports import ImportFileError
from metrics.activity.kinds import KIND_SPECS
from metrics.activity.selectors import activity_csv_lines, activity_records
from metrics.activity.tasks import import_job_start
from metrics.models import ImportJob, ImportStatus


def _job_or_404(team, pk: int) -> ImportJob:
    # The file and the error file are read only by the pages that need them (the status is polled every second).
    jobs = ImportJob.objects.filter(pk=pk, team=team).defer("content", "error_file")
    job = jobs.select_related("team", "created_by", "undone_by").first()
    if job is None:
        raise Http404("No such import.")
    return job


@login_required
@require_http_methods(["GET", "POST"])
def import_home(request, team_slug: str):
    """Upload a file for one kind of records; list the team's recent imports and the exports."""
    team = team_for_user_or_404(request.user, team_slug, Role.MANAGER)
    form = UploadForm(request.POST or None, request.FILES or None, kind=request.GET.get("kind"))
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
    jobs = ImportJob.objects.filter(team=team).defer("content", "error_file")[:20]
    exports = kind_choices()
    return render(
        request,
        "metrics/import.html",
        {"team": team, "current_team": team, "form": form, "jobs": jobs, "exports": exports},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_job(request, team_slug: str, pk: int):
    """A job: the column mapping with its first rows checked while a draft, then its progress and report."""
    team = team_for_user_or_404(request.user, team_slug, Role.MANAGER)
    job = _job_or_404(team, pk)
    context = {"team": team, "current_team": team, "job": job, "spec": KIND_SPECS[job.kind]}
    if job.status == ImportStatus.DRAFT:
        form = MappingForm(request.POST or None, job=job)
        mapping = None
        status = 200
        if request.method == "POST" and form.is_valid():
            mapping = form.mapping()
            if "check" not in request.POST:
                try:
                    job = import_job_start(job=job, mapping=mapping, valid_only=form.cleaned_data["valid_only"])
                except ImportFileError as exc:
                    form.add_error(None, str(exc))
                    status = 400
                else:
                    messages.info(request, _("Import started."))
                    return redirect("import-job", team_slug=team.slug, pk=job.pk)
        elif request.method == "POST":
            status = 400
        preview = import_job_preview(job=job, mapping=mapping)
        context.update(form=form, preview=preview, columns=form.column_fields())
        return render(request, "metrics/import_mapping.html", context, status=status)
    deadline = import_job_undo_deadline(job=job)
    context.update(
        undo_deadline=deadline,
        can_undo=deadline is not None and timezone.now() <= deadline,
        has_error_file=bool(job.error_file),
    )
    # The fields the errors name, in words (the reference and the kind's fields), never their codes.
    labels = {"external_id": _("Reference"), **{field.name: str(field.label) for field in KIND_SPECS[job.kind].fields}}
    context["errors"] = [
        {**error, "field_label": labels.get(error.get("field") or "", error.get("field") or "")}
        for error in (job.report or {}).get("errors", [])
    ]
    return render(request, "metrics/import_job.html", context)


@login_required
def import_job_errors(request, team_slug: str, pk: int):
    """The job's invalid rows with their errors, as a CSV file to correct and import again."""
    team = team_for_user_or_404(request.user, team_slug, Role.MANAGER)
    job = _job_or_404(team, pk)
    if not job.error_file:
        raise Http404("This import has no invalid rows.")
    response = HttpResponse(bytes(job.error_file), content_type="text/csv; charset=utf-8")
    suffix = _("errors")  # of the file name: orders.csv → orders-errors.csv
    filename = f"{PurePath(job.filename).stem}-{suffix}.csv"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


@login_required
@require_POST
def import_job_undo_view(request, team_slug: str, pk: int):
    """Undo a job: delete what it created, restore what it updated (see `import_job_undo`)."""
    team = team_for_user_or_404(request.user, team_slug, Role.MANAGER)
    job = _job_or_404(team, pk)
    try:
        result = import_job_undo(job=job, user=request.user)
    except ImportUndoRefused as exc:
        messages.error(request, str(exc))
    else:
        deleted = ngettext("%(count)d record deleted", "%(count)d records deleted", result.deleted) % {
            "count": result.deleted
        }
        restored = ngettext("%(count)d record restored", "%(count)d records restored", result.restored) % {
            "count": result.restored
        }
        messages.success(
            request, _("Import undone: %(deleted)s, %(restored)s.") % {"deleted": deleted, "restored": restored}
        )
    return redirect("import-job", team_slug=team.slug, pk=job.pk)


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
            "failed": job.status == ImportStatus.FAILED,
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
