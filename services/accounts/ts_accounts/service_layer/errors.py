"""Named errors of the accounts use cases; views map them to French messages."""


class AccountsError(Exception):
    """Base class: the message is French and safe to show to the user."""


class NotFound(AccountsError):
    pass


class AlreadyExists(AccountsError):
    pass


class InvalidInput(AccountsError):
    pass


class AuthenticationFailed(AccountsError):
    pass


class Conflict(AccountsError):
    """The request is understood, but the present state of things forbids it (HTTP 409): a
    confirmation is needed, or something must happen first."""
