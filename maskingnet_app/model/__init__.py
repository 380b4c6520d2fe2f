"""The model in use: the model service (load, mask, borrow) and the Model menu."""
