"""Corrections -> fine-tune -> version: data, augmentation, training, fine-tuning, evaluation."""
