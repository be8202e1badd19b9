"""Local development and tests: the base settings as they are."""
from .base import *  # noqa: F401,F403
