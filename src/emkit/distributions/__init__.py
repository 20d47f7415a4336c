"""Component families: each gives log densities, statistics that add up, and an M-step."""
