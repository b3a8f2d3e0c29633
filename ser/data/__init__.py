"""Data in: corpora (CREMA-D, manifests, the synthetic demo), audio, uploads, crowd votes."""
