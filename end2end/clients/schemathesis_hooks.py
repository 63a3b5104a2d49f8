"""Schemathesis hooks for Satchel's OpenAPI run (scripts/schemathesis.sh):
tus bodies are raw bytes, which schemathesis has no serializer for."""

import schemathesis


@schemathesis.serializer("application/offset+octet-stream", "application/partial-upload")
def raw_bytes(ctx, value):
    if isinstance(value, bytes):
        return value
    if value is None:
        return b""
    return str(value).encode()
