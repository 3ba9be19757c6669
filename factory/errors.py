"""The one exception type that the CLI turns into a one-line message and a non-zero exit."""


class UserError(Exception):
    """A mistake the user can fix (bad file, bad flag, conflicting run); never a bug of ours."""


class Interrupted(Exception):
    """Ctrl-C during long work, after what was finished has been saved."""
