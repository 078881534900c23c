"""The base of every error, and the generic ones; each package defines its own beside it."""

from __future__ import annotations

from typing import Any, ClassVar

#: Problem type URIs are tag URIs (RFC 4151): stable identifiers that never change with deployment.
PROBLEM_BASE = "tag:provenance.local,2026:problem/"


class Error(Exception):
    """Base of every error this package raises on purpose."""

    slug: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    @classmethod
    def type_uri(cls) -> str:
        return PROBLEM_BASE + cls.slug

    def with_context(self, detail: str | None = None, **extensions: Any) -> Error:
        """A copy of this error with more said about where it happened; the original stays as it
        was raised (errors are never edited in flight)."""
        merged = {
            **self.extensions,
            **{k: v for k, v in extensions.items() if k not in self.extensions},
        }
        copy = type(self)(self.detail if detail is None else detail, **merged)
        copy.__cause__ = self
        return copy

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 problem details object for this error."""
        body: dict[str, Any] = {
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance is not None:
            body["instance"] = instance
        body.update(self.extensions)
        return body


# --- errors any layer may raise ---------------------------------------------------------------


class BadJSON(Error):
    slug, status, title = "bad-json", 400, "Request body is not valid JSON"


class BadParameter(Error):
    slug, status, title = "bad-parameter", 400, "A query or command parameter is not valid"


class NotFound(Error):
    slug, status, title = "not-found", 404, "No such resource"


class Gone(Error):
    slug, status, title = "gone", 410, "The payload was erased"


class TooLarge(Error):
    slug, status, title = "too-large", 413, "Request or entry is too large"


class UnsupportedMediaType(Error):
    slug, status, title = "unsupported-media-type", 415, "Unsupported media type"


#: The generic problem types (each package lists its own beside its errors).
PROBLEMS: tuple[type[Error], ...] = (
    BadJSON,
    BadParameter,
    NotFound,
    Gone,
    TooLarge,
    UnsupportedMediaType,
)
