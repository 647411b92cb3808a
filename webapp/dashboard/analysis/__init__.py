"""Analysis pages: Pareto explorer, compare, device matrix, sweeps, result detail."""
