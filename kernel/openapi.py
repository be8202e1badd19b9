"""drf-yasg schema class that documents the error shape on every operation (kept apart
from kernel.api, which DRF imports while drf-yasg is still importing DRF)."""
from drf_yasg.inspectors import SwaggerAutoSchema

from kernel.api import ErrorSerializer


class ErrorAwareAutoSchema(SwaggerAutoSchema):
    """Every operation documents the shared error body for the statuses it can return."""

    def get_response_serializers(self):
        responses = super().get_response_serializers()
        codes = ["400", "429"]
        if self.get_security() != []:  # noqa: PLC1901 - [] means explicitly public
            codes += ["401", "403"]
        if "{" in self.path or self.should_page():  # a page past the last one is a 404
            codes.append("404")
        for code in codes:
            responses.setdefault(code, ErrorSerializer)
        return responses
