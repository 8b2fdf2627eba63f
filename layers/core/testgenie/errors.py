"""Domain errors. Handlers map them to HTTP codes; the domain never speaks HTTP."""


class TestGenieError(Exception):
    """Base of every error the domain raises on purpose."""

    __test__ = False  # not a pytest test class

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(TestGenieError):
    """The caller's input is wrong (HTTP 400). The message names the field or file."""


class ScenarioNotFoundError(ValidationError):
    """The scenario source holds no scenario of that name (HTTP 400: the request names it)."""

    def __init__(self, message: str, scenario: str) -> None:
        super().__init__(message)
        self.scenario = scenario


class NotFoundError(TestGenieError):
    """The thing asked for does not exist (HTTP 404)."""


class ConflictError(TestGenieError):
    """The thing exists but is in a state that forbids the operation (HTTP 409)."""


class ConfigurationError(TestGenieError):
    """The service itself is misconfigured (environment); raised at start-up."""


class TransientError(TestGenieError):
    """A dependency (the database, SQS, S3) is unavailable; the caller may retry later."""


class DatabaseUnavailableError(TransientError):
    """PostgreSQL could not be reached, even after one reconnect."""


class DatabaseBusyError(DatabaseUnavailableError):
    """PostgreSQL refused a connection because its connection slots are taken (SQLSTATE 53300);
    a retry a moment later usually succeeds (docs/deploying.md, connection budget)."""


class CommitOutcomeUnknownError(DatabaseUnavailableError):
    """The connection broke during or after a write reached the server (e.g. the answer to COMMIT was
    lost): the write may be stored or not. Never retried blindly; the caller reads the state back and
    acts on what is there (docs/database.md, "What can go wrong")."""
