"""Models: features, splits, grid searches, baselines, wav2vec2 fine-tuning, prediction."""
