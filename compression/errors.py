"""Errors raised by the compression library.

All of them subclass ``ValueError`` so a caller that validates user input can
catch one type and show the message, which always names the problem.
"""


class CompressionError(ValueError):
    """Base class for every error the compression library raises on bad input."""


class NotApplicableError(CompressionError):
    """A technique was asked to act on a model or layer it cannot handle."""


class UnknownTechniqueError(CompressionError):
    """A technique code is not in the registry."""


class PlanSyntaxError(CompressionError):
    """A plan's text form could not be parsed."""


class ModelFileError(CompressionError):
    """A model file is missing, corrupt or refused by Keras safe mode."""


class DatasetError(CompressionError):
    """A dataset file or array set is malformed."""


class ModelInputError(CompressionError):
    """A model's input signature does not fit the dataset it was given with."""
