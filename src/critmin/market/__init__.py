"""Market-shock simulator: cost-curve supply, isoelastic demand, blocs and sanctions,
stocks (pure models; data in, results out)."""
