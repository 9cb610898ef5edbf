"""The one error type the stages turn into a one-line message and a non-zero exit."""


class PipelineError(Exception):
    """Bad input or parameters: the message names the file or parameter and the fix."""
