"""nbgrader preprocessors of the platform, one per module, plugged in through nbgrader's config."""

from graders.authoring.preprocessors.save_cells import SaveCellsKeepingGrades
from graders.authoring.preprocessors.select_language import SelectLanguage

__all__ = ["SaveCellsKeepingGrades", "SelectLanguage"]
