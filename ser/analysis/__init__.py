"""What results mean: uncertainty, bias by group, clustering."""
