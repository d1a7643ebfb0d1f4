"""S3 eTags as the store compares them. Standard library only, so the event parser can use it too."""


def bare_etag(etag: str | None) -> str | None:
    """S3 listings and GETs quote eTags ('"abc"'); events may not; the store keeps the bare value."""
    if etag is None:
        return None
    return etag.strip('"') or None
