"""Train on My Corrections: the dialog, its worker, the loss plot."""
