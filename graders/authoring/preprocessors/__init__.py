"""nbgrader preprocessors of the platform, one per module, plugged in through nbgrader's config."""

from graders.authoring.preprocessors.select_language import SelectLanguage

__all__ = ["SelectLanguage"]
