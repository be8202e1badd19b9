"""Reading numbers that clients send as text (headers, query parameters, identifiers)."""


def ascii_digits(text: str, *, max_length: int = 18) -> bool:
    """Only 0-9, at most `max_length` of them: what `int()` takes without surprise. str.isdigit
    also accepts "²" and "١", which int() refuses or reads, and any length, which int() caps."""
    return 0 < len(text) <= max_length and text.isascii() and text.isdigit()
