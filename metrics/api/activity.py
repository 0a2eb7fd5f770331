"""POST and GET /api/v1/activity/<kind>/: bulk upsert and listing of CRM records (DESIGN.md §9).

One view class per record kind, generated from the registry, so that the OpenAPI schema
documents every kind with its own fields and example. The views only translate HTTP:
scoping comes from accounts.api.access, writing from metrics.activity.ingest, reading from
metrics.activity.selectors.
"""

import django_filters
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import ParseError, PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.access import request_default_team_id, request_team_ids
from accounts.roles import Role
from metrics.activity.ingest import IngestError, activity_ingest
from metrics.activity.kinds import KIND_SPECS, FieldError, KindSpec, check_plausible_moment
from metrics.activity.selectors import activity_csv_lines, activity_record_values, activity_records, activity_row_dict
from metrics.api.activity_schema import (
    EXAMPLES,
    INPUT_SERIALIZERS,
    OUTPUT_SERIALIZERS,
    DetailSerializer,
    IngestErrorsSerializer,
    IngestResultSerializer,
)


class ActivityCursorPagination(CursorPagination):
    """Stable pages over a growing table: by id, 100 per page (up to 1,000 with ?page_size=)."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class CsvRenderer(BaseRenderer):
    """`?format=csv`: the listing streams its own CSV; this renders only error messages as text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, dict) and "detail" in data:
            return str(data["detail"]).encode()
        return str(data).encode()


def _plausible_moment(value) -> None:
    """A date filter lies where records can (the plausible window, UTC offsets within ±14:00): a 400 naming the
    parameter otherwise, not the 500 of a year 9999 moved to UTC or of an offset PostgreSQL refuses."""
    try:
        check_plausible_moment(value)
    except FieldError as exc:
        raise ValidationError(str(exc), code="date_out_of_window") from None


def _filterset_for(spec: KindSpec) -> type[django_filters.FilterSet]:
    """external_id, team, [<main date>_after, <main date>_before) and updated_since, for one kind."""
    main = spec.by_name.get(spec.main_date)
    is_date = main is not None and main.type == "date"
    date_filter = django_filters.DateFilter if is_date else django_filters.IsoDateTimeFilter
    plausible = {"validators": [_plausible_moment]}
    attrs = {
        "external_id": django_filters.CharFilter(field_name="external_id"),
        "team": django_filters.CharFilter(field_name="team__slug", help_text="slug of one of your teams"),
        f"{spec.main_date}_after": date_filter(
            field_name=spec.main_date,
            lookup_expr="gte",
            help_text=f"{spec.main_date} on or after (ISO 8601)",
            **plausible,
        ),
        f"{spec.main_date}_before": date_filter(
            field_name=spec.main_date,
            lookup_expr="lt",
            help_text=f"{spec.main_date} strictly before (ISO 8601)",
            **plausible,
        ),
        "updated_since": django_filters.IsoDateTimeFilter(
            field_name="updated_at",
            lookup_expr="gte",
            help_text="changed on or after this time (ISO 8601)",
            **plausible,
        ),
        "Meta": type("Meta", (), {"model": spec.model, "fields": []}),
    }
    return type(f"{spec.model.__name__}FilterSet", (django_filters.FilterSet,), attrs)


def _error(detail: str, status_code: int) -> Response:
    return Response({"detail": detail}, status=status_code)


class ActivityJSONParser(JSONParser):
    """DRF's strict JSON parser (no NaN or Infinity), with a body nested too deeply for Python's decoder refused as
    a parse error (a 400, not the RecursionError's 500).

    Not the site's `kpiplatform.edge.SafeJSONParser`, on purpose: ingestion checks each record
    itself (metrics.activity.ingest: NUL characters, lone surrogates, non-finite numbers and
    nesting deeper than KPI_MAX_JSON_DEPTH refused per record and field, with its index and
    external_id, as for any invalid value), which the CSV import and the command need anyway;
    walking the body twice more here (its depth, then its strings) would cost about 110 ms per
    5,000 orders, half again a batch's time.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error - the body is nested too deeply.")) from None


def _body_error(message: str) -> Response:
    """A 400 for a body that is not a batch: the message as `detail`, and as the one entry of `errors` (§9)."""
    error = {"index": None, "external_id": None, "field": None, "message": message}
    return Response({"detail": message, "errors": [error]}, status=status.HTTP_400_BAD_REQUEST)


class ActivityView(GenericAPIView):
    """Bulk upsert (POST) and listing (GET) of one kind of CRM record."""

    kind = ""
    parser_classes = [ActivityJSONParser]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CsvRenderer]
    pagination_class = ActivityCursorPagination
    filter_backends = [DjangoFilterBackend]

    @property
    def spec(self) -> KindSpec:
        return KIND_SPECS[self.kind]

    def get_serializer_class(self):
        # For the browsable API's forms (`?format=api`) only: validation is the kinds registry's (ingest).
        return (INPUT_SERIALIZERS if self.request.method == "POST" else OUTPUT_SERIALIZERS)[self.kind]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.spec.model.objects.none()
        return activity_records(kind=self.kind, team_ids=request_team_ids(self.request))

    def get(self, request, *args, **kwargs):
        records = self.filter_queryset(self.get_queryset())
        if request.accepted_renderer.format == "csv":
            response = StreamingHttpResponse(
                activity_csv_lines(kind=self.kind, records=records), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{self.kind}.csv"'
            return response
        page = self.paginate_queryset(activity_record_values(spec=self.spec, records=records))
        return self.get_paginated_response([activity_row_dict(spec=self.spec, row=row) for row in page])

    def post(self, request, *args, **kwargs):
        writable = request_team_ids(request, write=True, minimum_role=Role.MEMBER)
        if writable is not None and not writable:
            raise PermissionDenied(_("You may not write activity to any team."))
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.KPI_MAX_BATCH_BYTES:
            message = _("The request body is too large: %(size)d bytes (at most %(limit)d).") % {
                "size": length,
                "limit": settings.KPI_MAX_BATCH_BYTES,
            }
            return _error(message, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        try:
            data = request.data
        except ParseError as exc:
            return _body_error(str(exc.detail))
        records = data.get("records") if isinstance(data, dict) else data
        if not isinstance(records, list):
            return _error(
                _('Send a JSON list of records, or an object {"records": [...]}.'), status.HTTP_400_BAD_REQUEST
            )
        if len(records) > settings.KPI_MAX_BATCH_RECORDS:
            message = _("Too many records: %(count)d (at most %(limit)d per request).") % {
                "count": len(records),
                "limit": settings.KPI_MAX_BATCH_RECORDS,
            }
            return _error(message, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        # A NUL in ?team= never gets here: kpiplatform.edge.EdgeInputMiddleware refuses it for the whole site.
        slug = request.query_params.get("team")
        default_team_id = request_default_team_id(request, slug=slug, minimum_role=Role.MEMBER)
        try:
            result = activity_ingest(
                kind=self.kind, records=records, default_team_id=default_team_id, writable_team_ids=writable
            )
        except IngestError as exc:
            return Response({"errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(result.as_dict(), status=status.HTTP_200_OK)


def _documented(kind: str, view_class: type[ActivityView]) -> type[ActivityView]:
    spec = KIND_SPECS[kind]
    label = str(spec.model._meta.verbose_name_plural)
    example = EXAMPLES[kind]
    errors_example = {
        "errors": [{"index": 0, "external_id": example["external_id"], "field": spec.main_date, "message": "…"}]
    }
    return extend_schema_view(
        get=extend_schema(
            operation_id=f"activity_{kind.replace('-', '_')}_list",
            summary=f"List {label}",
            description=f"The {label} of your teams, oldest first, by cursor pages. `?format=csv` exports them all.",
            responses={200: OUTPUT_SERIALIZERS[kind](many=True)},
            tags=["activity"],
        ),
        post=extend_schema(
            operation_id=f"activity_{kind.replace('-', '_')}_upsert",
            summary=f"Upsert {label}",
            description=(
                f"Create or update {label} by `external_id` (idempotent: the same batch twice changes nothing). "
                'Body: a JSON list of records, or `{"records": [...]}`; at most '
                f"{settings.KPI_MAX_BATCH_RECORDS} records. All or nothing: one invalid record rejects the batch."
            ),
            parameters=[
                OpenApiParameter("team", str, description="slug of the team receiving records without a `team`")
            ],
            request=INPUT_SERIALIZERS[kind](many=True),
            responses={
                200: IngestResultSerializer,
                400: OpenApiResponse(IngestErrorsSerializer, description="invalid records; nothing written"),
                403: OpenApiResponse(DetailSerializer, description="no write access"),
                413: OpenApiResponse(DetailSerializer, description="too many records or too large a body"),
            },
            examples=[
                # A list body: drf-spectacular wraps the example record in a list itself.
                OpenApiExample(f"{label} batch", value=example, request_only=True),
                OpenApiExample("result", value={"created": 1, "updated": 0, "unchanged": 0}, response_only=True),
                OpenApiExample("errors", value=errors_example, response_only=True, status_codes=["400"]),
            ],
            tags=["activity"],
        ),
    )(view_class)


ACTIVITY_VIEWS: dict[str, type[ActivityView]] = {
    kind: _documented(
        kind,
        type(
            f"{spec.model.__name__}ActivityView",
            (ActivityView,),
            {"kind": kind, "filterset_class": _filterset_for(spec)},
        ),
    )
    for kind, spec in KIND_SPECS.items()
}


class UnknownActivityKindView(APIView):
    """Any other /api/v1/activity/<kind>/: a JSON 404 naming the known kinds."""

    schema = None

    def _not_found(self, request, kind: str) -> Response:
        message = _("Unknown record kind '%(kind)s'. Known kinds: %(kinds)s.") % {
            "kind": kind,
            "kinds": ", ".join(KIND_SPECS),
        }
        return _error(message, status.HTTP_404_NOT_FOUND)

    def get(self, request, kind: str):
        return self._not_found(request, kind)

    def post(self, request, kind: str):
        return self._not_found(request, kind)
