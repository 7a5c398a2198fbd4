print("lattice-analytics: not built yet")
