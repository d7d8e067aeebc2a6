"""What the intent library raises: bad training data, or a model that cannot be used as asked."""

from __future__ import annotations

from chatdesk.errors import ChatdeskError, InvalidInput


class IntentDataError(InvalidInput, ValueError):
    """Intent data that cannot be trained or evaluated on; the message says what to fix.

    One type for every data problem, so a command line maps it to one exit code.
    """


class IntentModelError(ChatdeskError):
    """An intent model artifact that cannot be loaded or used."""

    status = 500
    title = "Intent model unusable"


class UntrustedArtifact(IntentModelError):
    """The artifact names a type outside the loader's allow-list, so it is not loaded at all."""


class EmbedderMismatch(IntentModelError):
    """The model was trained on vectors of another embedder; its weights mean nothing for these."""
