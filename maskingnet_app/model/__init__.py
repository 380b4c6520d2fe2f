"""The model in use: the model service (loads it, masks photos, lends it to other threads)."""
