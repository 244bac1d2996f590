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
