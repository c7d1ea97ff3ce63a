"""`lambdalayer build` (placeholder until the build pipeline lands)."""
