"""Errors of the domain core.

RagError
├── ConfigError           bad settings or KB config (unknown KB, embedder mismatch, bad option)
│   ├── KBNotFoundError   no KB of that name
│   └── KBExistsError     a KB of that name already exists
├── InvalidInputError     a request the caller must fix (bad filter, empty query)
├── StoreError            the storage engine failed or holds inconsistent data
│   └── BackendUnavailableError  a remote engine cannot be reached
├── EmbedderUnavailableError  a remote embedding server failed or answered nonsense
└── LoaderError           a file could not be parsed (reported per file, never fatal to a batch)
"""


class RagError(Exception):
    """Base of every error the domain core raises on purpose."""


class ConfigError(RagError):
    pass


class KBNotFoundError(ConfigError):
    pass


class KBExistsError(ConfigError):
    pass


class InvalidInputError(RagError):
    pass


class StoreError(RagError):
    pass


class BackendUnavailableError(StoreError):
    """`backend` names the kind of server ("elasticsearch"), never where it runs."""

    def __init__(self, message: str, backend: str = "storage backend") -> None:
        super().__init__(message)
        self.backend = backend


class EmbedderUnavailableError(RagError):
    pass


class LoaderError(RagError):
    pass
