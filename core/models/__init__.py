"""Models as files: the networks (``networks``), the preprocessing a checkpoint carries,
checkpoints, the device, where models live, the user's versions and the active model."""
