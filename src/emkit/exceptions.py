"""Warnings and errors emkit raises."""


class MonotonicityWarning(RuntimeWarning):
    """The objective EM climbs went down between two iterations: a numerical or model bug."""


class DegenerateFitWarning(RuntimeWarning):
    """A fitted component is (nearly) singular even after regularisation or re-seeding."""


class DataError(ValueError):
    """Input data that emkit cannot use; the message says what is wrong and what to do."""
