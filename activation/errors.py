from django.db import models


class EngineFailure(models.TextChoices):
    """Reasons the engine itself finishes a transaction FAILED (a domain settler's refusals
    live in that domain's `errors.py`). The label is the text a customer is shown."""

    SETTLEMENT_ERROR = "settlement_error", "of a technical problem on our side; you were not charged"
    UNKNOWN_KIND = "unknown_kind", "the request is of a kind this service no longer settles"
