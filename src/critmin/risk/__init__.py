"""Supply-risk indicators (pure functions)."""
