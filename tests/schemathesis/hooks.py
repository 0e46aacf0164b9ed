"""Serializers for the attachment types Schemathesis has none for.

The document lists every type an attachment may have (`ALLOWED_MIME_TYPES`); without these,
Schemathesis stops at a multipart part of such a type instead of sending it.
"""

import schemathesis


@schemathesis.serializer("application/pdf", "text/markdown", "text/csv")
def as_bytes(ctx, value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value).encode("utf-8")
