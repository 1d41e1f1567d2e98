"""Exceptions raised by embedlite; each message names the problem and, where there is one, the fix."""


class EmbedliteError(Exception):
    """Base class of embedlite's own errors."""


class ArtifactError(EmbedliteError):
    """A model artifact is missing, corrupt or of an unknown format."""


class ReadOnlyStoreError(EmbedliteError):
    """A write to a store opened read-only (asked for, or its file or folder cannot be written)."""


class MissingDependencyError(EmbedliteError, ImportError):
    """An optional dependency is needed; the message gives the install command."""


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency or raise an error naming the install command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the '{module}' package: pip install 'embedlite[{extra}]'"
        ) from exc
