"""Folder -> batch -> review: the batch pipeline, its jobs and results, progress, and the review log."""
