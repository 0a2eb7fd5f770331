"""OpenAPI description of the activity endpoints: serializers and examples generated from the kind registry.

These serializers document the wire format (and render the listing); validation itself
is done by metrics.activity.kinds so that the API, the CSV import and the command agree.
"""

from rest_framework import serializers

from metrics.activity.kinds import KIND_SPECS, FieldSpec, KindSpec

# One realistic record per kind, shown in /api/v1/docs/ (and checked by the tests to be valid).
EXAMPLES: dict[str, dict] = {
    "customers": {
        "external_id": "C-1042",
        "name": "Boulangerie Durand",
        "segment": "smb",
        "acquisition_channel": "email",
        "acquired_at": "2025-03-04T10:15:00Z",
        "churned_at": None,
        "attributes": {"city": "Lyon"},
    },
    "leads": {
        "external_id": "L-7781",
        "channel": "webinar",
        "owner": "hugo.bernard",
        "created_at": "2025-03-01T09:00:00+01:00",
        "first_response_at": "2025-03-01T11:30:00+01:00",
        "qualified_at": "2025-03-03T16:00:00+01:00",
        "converted_at": None,
        "customer": None,
    },
    "deals": {
        "external_id": "D-310",
        "owner": "claire.martin",
        "customer": "C-1042",
        "stage": "negotiation",
        "amount": "12500.00",
        "probability": "60",
        "created_at": "2025-02-10T08:00:00Z",
        "closed_at": "2025-03-20T17:00:00Z",
        "status": "won",
    },
    "orders": {
        "external_id": "O-99812",
        "customer": "C-1042",
        "ordered_at": "2025-03-05T14:30:00Z",
        "amount": "249.90",
        "status": "completed",
        "is_upsell": False,
        "is_cross_sell": True,
        "channel": "web",
    },
    "subscriptions": {
        "external_id": "S-551",
        "customer": "C-1042",
        "started_at": "2024-03-01T00:00:00Z",
        "renewal_due_at": "2025-03-01T00:00:00Z",
        "renewed_at": "2025-02-27T10:00:00Z",
        "cancelled_at": None,
        "recurring_amount": "49.00",
    },
    "tickets": {
        "external_id": "T-20931",
        "customer": "C-1042",
        "channel": "phone",
        "kind": "complaint",
        "created_at": "2025-03-06T09:12:00Z",
        "first_response_at": "2025-03-06T09:40:00Z",
        "resolved_at": "2025-03-07T15:00:00Z",
        "contact_count": 2,
    },
    "survey-responses": {
        "external_id": "NPS-8812",
        "customer": "C-1042",
        "survey": "nps",
        "score": 9,
        "responded_at": "2025-03-08T18:00:00Z",
        "touchpoint": "after_purchase",
        "comment": "Très bon accueil",
    },
    "meetings": {
        "external_id": "M-4410",
        "owner": "claire.martin",
        "customer": "C-1042",
        "lead": None,
        "scheduled_at": "2025-03-10T14:00:00+01:00",
        "held": True,
    },
    "campaigns": {
        "external_id": "CMP-2025-03",
        "name": "Newsletter mars",
        "channel": "email",
        "budget": "1500.00",
        "started_at": "2025-03-01T08:00:00Z",
    },
    "campaign-stats": {
        "external_id": "CMP-2025-03/2025-03-01",
        "campaign": "CMP-2025-03",
        "date": "2025-03-01",
        "sent": 12000,
        "delivered": 11800,
        "bounced": 200,
        "opened": 4100,
        "clicked": 830,
        "unsubscribed": 25,
        "conversions": 41,
        "revenue": "3280.00",
    },
    "spend": {
        "external_id": "SP-2025-03-01-ads",
        "date": "2025-03-01",
        "category": "acquisition",
        "amount": "420.00",
        "campaign": "CMP-2025-03",
        "channel": "search_ads",
    },
    "web-traffic": {
        "external_id": "WEB-2025-03-01-organic",
        "date": "2025-03-01",
        "source": "organic",
        "visits": 3120,
        "bounces": 1310,
        "pageviews": 9800,
        "total_time_s": 401000,
        "conversions": 62,
    },
    "interactions": {
        "external_id": "I-7781-1",
        "customer": "C-1042",
        "kind": "email_open",
        "occurred_at": "2025-03-02T07:45:00Z",
        "channel": "email",
    },
}


def _drf_field(spec: FieldSpec, *, output: bool, model) -> serializers.Field:
    """The DRF field documenting one ingestion field."""
    options = {"required": spec.required and not output, "help_text": str(spec.label)}
    if not spec.required:
        options["allow_null"] = True
    if spec.type == "reference":
        model = spec.reference._meta.verbose_name
        options["help_text"] = f"external_id of the {model} (same team)"
        return serializers.CharField(**options)
    if spec.type == "datetime":
        return serializers.DateTimeField(**options)
    if spec.type == "date":
        return serializers.DateField(**options)
    if spec.type == "decimal":
        return serializers.DecimalField(
            max_digits=14, decimal_places=2, min_value=spec.minimum, max_value=spec.maximum, **options
        )
    if spec.type == "integer":
        return serializers.IntegerField(min_value=spec.minimum, max_value=spec.maximum, **options)
    if spec.type == "boolean":
        return serializers.BooleanField(**options)
    if spec.choices:
        # (value, label) pairs as on the model, so the schema's enums are those of the model's choices.
        return serializers.ChoiceField(choices=list(model._meta.get_field(spec.name).flatchoices), **options)
    if spec.max_length:
        options["max_length"] = spec.max_length
    options["allow_blank"] = True
    return serializers.CharField(**options)


def _serializer_for(spec: KindSpec, *, output: bool) -> type[serializers.Serializer]:
    attrs: dict = {
        "external_id": serializers.CharField(max_length=120, help_text="the CRM's id, unique per team and kind"),
        "team": serializers.CharField(
            required=False,
            help_text="slug of the team (the key's team or one of its sub-teams); default: the key's team",
        ),
    }
    attrs.update({f.name: _drf_field(f, output=output, model=spec.model) for f in spec.fields})
    attrs["attributes"] = serializers.DictField(required=False, help_text="free extra fields (JSON object)")
    if output:
        attrs["ingested_at"] = serializers.DateTimeField(read_only=True)
        attrs["updated_at"] = serializers.DateTimeField(read_only=True)
    name = spec.model.__name__ + ("Record" if output else "RecordInput")
    return type(name, (serializers.Serializer,), attrs)


INPUT_SERIALIZERS = {kind: _serializer_for(spec, output=False) for kind, spec in KIND_SPECS.items()}
OUTPUT_SERIALIZERS = {kind: _serializer_for(spec, output=True) for kind, spec in KIND_SPECS.items()}


class IngestResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class RecordErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True, help_text="position of the record in the batch (from 0)")
    external_id = serializers.CharField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class IngestErrorsSerializer(serializers.Serializer):
    errors = RecordErrorSerializer(many=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
