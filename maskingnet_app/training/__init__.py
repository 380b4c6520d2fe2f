"""Corrections -> fine-tune -> version -> active model: the Model menu (versions, Train on My
Corrections), the training dialog, its worker, the loss plot."""
