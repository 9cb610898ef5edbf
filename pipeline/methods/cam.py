"""Plain CAM training: the multi-label soft-margin loss alone (Zhou et al., 2016)."""
from pipeline.methods.base import TrainingMethod


class CamMethod(TrainingMethod):
    """Adds nothing to `L_cls`."""
