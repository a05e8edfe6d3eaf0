"""The one rule entries obey, shared by the pages and the API."""

MAX_LENGTH = 1000  # the column is VARCHAR(1000)


def entry_text(value):
    """Return (text, None) for acceptable input, else (None, reason). Whitespace is trimmed."""
    if not isinstance(value, str):
        return None, "text must be a string"
    text = value.strip()
    if not text:
        return None, "text must not be empty"
    if len(text) > MAX_LENGTH:
        return None, f"text must be at most {MAX_LENGTH} characters"
    return text, None
