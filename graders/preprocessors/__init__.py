"""nbgrader preprocessors of the platform, one per module, plugged in through nbgrader's config."""

from graders.preprocessors.select_language import SelectLanguage

__all__ = ["SelectLanguage"]
