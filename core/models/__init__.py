"""Models as files: the networks (``networks``), checkpoints, the device, where models live, the user's versions
and the active model."""
