"""A failure code in plain words, for the templates: the label of the code in the failure
enum of the app that defines it (each app registers its enum with `kernel.errors`)."""
from kernel.errors import failure_label

UNKNOWN_FAILURE_REASON = "it could not be completed"


def failure_reason(code: str) -> str:
    if not code:
        return ""
    return failure_label(code) or UNKNOWN_FAILURE_REASON
