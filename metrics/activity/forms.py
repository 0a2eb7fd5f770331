"""Forms of the activity import: the upload, and the mapping of a file's columns to a kind's fields."""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from metrics.activity.imports import import_field_names
from metrics.activity.kinds import KIND_SPECS
from metrics.models import ImportJob


def kind_choices() -> list[tuple[str, str]]:
    return [(kind, str(spec.model._meta.verbose_name_plural).capitalize()) for kind, spec in KIND_SPECS.items()]


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind of records"), choices=kind_choices)
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy(
            "CSV (separated by semicolons, commas or tabs; UTF-8, UTF-16 or Windows-1252) or XLSX; the first line "
            "names the columns. Dates as 31/12/2026 14:30 or 2026-12-31, amounts as 1 234,56 or 1234.56."
        ),
    )

    def __init__(self, *args, kind: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if kind in KIND_SPECS:
            self.fields["kind"].initial = kind


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
