"""The user's corrections on disk (masks and their soft alpha): the data the fine-tuning learns from."""
