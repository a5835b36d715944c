"""Judging the risk models by what inspectors find, and proposing thresholds from it.

:mod:`panorama.grading.evaluate` measures each risk model against the spot checks of the last
four quarters (and against a generator's latent risk where that answer key exists);
:mod:`panorama.grading.propose` fits grade thresholds on that history and writes proposed seed
files with the evaluation before and after. Nothing here changes policy: a person copies the
proposed seeds into the project and accepts the grade-share change through the gate.
"""

from panorama.grading.evaluate import GradingEvaluationError, evaluate, load_checks
from panorama.grading.propose import propose

__all__ = ["GradingEvaluationError", "evaluate", "load_checks", "propose"]
